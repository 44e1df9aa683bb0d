import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchWords } from '../../apps/gateway/src/recording/search-words.js';
import { serverUrl } from '../support/postgres.js';

// A chunk's search text holds its statements' distinct words instead of the statements. Postgres's
// own text-search parser decides whether that loses anything: the lexemes it finds in the words
// must be exactly those it finds in the statements, for SQL of every shape a session may send.
const statements = [
  'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;',
  'SELECT abalance FROM pgbench_accounts WHERE aid = 67890;',
  "UPDATE customers SET email = 'ada.lovelace@example.com', note = 'first programmer, 1843' WHERE id = 7",
  "INSERT INTO docs (body) VALUES ('<a href=\"https://example.com/a b\">link text</a>'), ('co-operate re-entry')",
  'select * from "Mixed Case Table" t where t.col >= 1.5e3 and t.version = \'v2.10.3\'',
  "-- a comment with words\nSELECT jsonb_build_object('key', 'value with   spaces')\t/* block\ncomment */",
  "SELECT 'Ünïcödé wörds ñ', 'tab\tseparated', $$dollar quoted $body$ text$$, '/usr/local/bin/psql'",
  "DELETE FROM orders WHERE created_at < now() - interval '30 days' RETURNING id, total::numeric(10,2)",
  'COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER true)',
  '',
  '   ',
];

describe('a recording chunk’s search words', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
  });
  afterAll(() => client.end());

  const lexemes = async (text: string): Promise<string[]> => {
    const { rows } = await client.query<{ lexeme: string }>(
      `SELECT lexeme FROM unnest(to_tsvector('simple', $1)) ORDER BY lexeme`,
      [text],
    );
    return rows.map((r) => r.lexeme);
  };

  it('give Postgres the same lexemes as the whole statements', async () => {
    const expected = await lexemes(statements.join('\n'));
    expect(expected.length).toBeGreaterThan(40);
    expect(await lexemes(searchWords(statements))).toEqual(expected);
    for (const statement of statements)
      expect(await lexemes(searchWords([statement]))).toEqual(await lexemes(statement));
  });

  it('keep each word once, however many statements repeat it', () => {
    const words = searchWords(statements.slice(0, 2)).split('\n');
    expect(words).toEqual(['SELECT', 'abalance', 'FROM', 'pgbench_accounts', 'WHERE', 'aid', '=', '12345;', '67890;']);
    expect(searchWords(['', '  \n '])).toBe('');
  });

  it('match the same searches', async () => {
    const whole = statements.join('\n');
    const words = searchWords(statements);
    for (const q of [
      'ada.lovelace@example.com',
      'pgbench_accounts 67890',
      'co-operate',
      'link text',
      'missing word',
      '1843',
    ]) {
      const { rows } = await client.query<{ whole: boolean; words: boolean }>(
        `SELECT to_tsvector('simple', $1) @@ plainto_tsquery('simple', $3) AS whole,
                to_tsvector('simple', $2) @@ plainto_tsquery('simple', $3) AS words`,
        [whole, words, q],
      );
      expect(rows[0]!.words, q).toBe(rows[0]!.whole);
      expect(rows[0]!.whole, q).toBe(q !== 'missing word');
    }
  });
});
