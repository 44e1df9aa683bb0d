// Side channels (issue 22, class 6) as a real Postgres 15 encodes them: error fields, binary
// records/arrays/tsvector/tsquery/enums, pg_stats anyarray, binary COPY, ParameterStatus.
import { BackendCode, BackendSplitter, decodeDataRow, serializeFrontend as F } from '@warden/pg-wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_STRATEGIES, ResultMasker, TEXT_TYPE_CATALOG_QUERY, type MaskingPlan } from './index.js';
import { WITHHELD_TEXT } from './notices.js';
import { frontendMessages, RawConnection } from './real-server-connection.js';
import { parseWithPgProtocol } from './test-helpers.js';

const CARD = '4111111111111111';
const SSN = '123-45-6789';
const detectorsOnly: MaskingPlan = { detectors: DEFAULT_DETECTOR_STRATEGIES };

let conn: RawConnection;

/** Text cells of a simple query's rows (unmasked: for setup). */
async function query(sql: string): Promise<(string | null)[][]> {
  const frames = new BackendSplitter().split(Buffer.concat(await conn.request(F.query(sql))));
  const error = frames.find((f) => f[0] === BackendCode.ErrorResponse);
  if (error) throw new Error(`${sql}: ${error.toString('latin1')}`);
  return frames
    .filter((f) => f[0] === BackendCode.DataRow)
    .map((f) => decodeDataRow(f).map((c) => c?.toString() ?? null));
}

/** Send `request` (tracked by the masker), return the masked response. */
async function masked(request: Buffer, masker: ResultMasker): Promise<Buffer> {
  for (const m of frontendMessages(request)) masker.frontend(m);
  const chunks = await conn.request(request);
  expect(Buffer.concat(chunks).toString('latin1')).toContain(CARD.slice(0, 12)); // the raw response has it
  return Buffer.concat(chunks.flatMap((c) => masker.push(c)));
}

function extended(sql: string, binary: boolean): Buffer {
  return Buffer.concat([
    F.parse({ text: sql }),
    F.bind({ binary }),
    F.describe({ type: 'P' }),
    F.execute({}),
    F.sync(),
  ]);
}

beforeAll(async () => {
  conn = await RawConnection.open();
  await query(`
    CREATE TEMP TABLE people (id int, name text, card text, ssn text);
    CREATE TEMP VIEW positive_people AS SELECT * FROM people WHERE id > 0 WITH CHECK OPTION;
    CREATE TYPE pg_temp.card_kind AS ENUM ('plain', '${CARD}');
    INSERT INTO people SELECT i, 'name' || i, '${CARD}', '${SSN}' FROM generate_series(1, 50) i;
    ANALYZE people;`);
});
afterAll(() => conn?.close());

describe('real server: errors and notices', () => {
  it('withholds the check-option "Failing row contains" detail under column rules', async () => {
    const [[oid]] = (await query(`SELECT 'people'::regclass::oid`)) as [[string]];
    const plan: MaskingPlan = { columns: { [`${oid}:4`]: { strategy: 'redact' } } };
    const out = await masked(
      F.query(`INSERT INTO positive_people VALUES (-1, 'x', '${CARD}', '${SSN}')`),
      new ResultMasker(plan),
    );
    const [error] = await parseWithPgProtocol(out);
    expect(error).toMatchObject({ name: 'error', code: '44000', detail: WITHHELD_TEXT });
    expect(out.toString('latin1')).not.toContain(SSN);
  });

  it('withholds RAISE detail, hint and context; masks the message with detectors', async () => {
    const plan: MaskingPlan = { columns: { '1:1': { strategy: 'redact' } }, detectors: DEFAULT_DETECTOR_STRATEGIES };
    const sql = `DO $$ BEGIN RAISE NOTICE 'card %', '${CARD}' USING DETAIL = '${SSN}', HINT = '${SSN}'; END $$`;
    const out = await masked(F.query(sql), new ResultMasker(plan));
    const [notice] = await parseWithPgProtocol(out);
    expect(notice).toMatchObject({
      message: 'card ************1111',
      detail: WITHHELD_TEXT,
      hint: WITHHELD_TEXT,
      where: WITHHELD_TEXT,
    });
  });
});

describe('real server: binary formats', () => {
  const sql = `SELECT row(name, card) AS r, ARRAY[card] AS a, ARRAY[row(card)] AS ar,
      to_tsvector('simple', card) AS v, plainto_tsquery('simple', card) AS q,
      '${CARD}'::pg_temp.card_kind AS k, jsonb_build_array(card) AS j, card::varchar AS c
    FROM people WHERE id = 1`;

  it.each([
    ['text', false],
    ['binary', true],
  ])('masks records, arrays, tsvector, tsquery, enums and jsonb in %s format', async (_, binary) => {
    const out = await masked(extended(sql, binary), new ResultMasker(detectorsOnly, { trackFrontend: true }));
    expect(out.toString('latin1')).not.toContain(CARD);
    // Masked in place in the record, arrays, jsonb and varchar (the enum, tsvector and tsquery
    // are withheld in binary, masked in their text literals).
    expect(out.toString('latin1').split('************1111').length - 1).toBe(binary ? 5 : 8);
    const [row] = (await parseWithPgProtocol(out)).filter((m) => m.name === 'dataRow');
    expect(row!.fields).toHaveLength(8);
  });

  it('masks enums in place in binary format when the catalog names them as text types', async () => {
    const textTypes = (await query(TEXT_TYPE_CATALOG_QUERY)).map(([oid]) => Number(oid));
    const [[enumOid]] = (await query(`SELECT 'pg_temp.card_kind'::regtype::oid`)) as [[string]];
    expect(textTypes).toContain(Number(enumOid));
    const out = await masked(
      extended(`SELECT '${CARD}'::pg_temp.card_kind`, true),
      new ResultMasker({ ...detectorsOnly, textTypes }, { trackFrontend: true }),
    );
    const [row] = (await parseWithPgProtocol(out)).filter((m) => m.name === 'dataRow');
    expect(row!.fields[0]).toBe('************1111');
  });

  it.each([
    ['text', false],
    ['binary', true],
  ])('masks pg_stats.most_common_vals (anyarray) in %s format', async (_, binary) => {
    const out = await masked(
      extended(`SELECT most_common_vals FROM pg_stats WHERE tablename = 'people' AND attname = 'card'`, binary),
      new ResultMasker(detectorsOnly, { trackFrontend: true }),
    );
    expect(out.toString('latin1')).not.toContain(CARD);
    expect(out.toString('latin1')).toContain('************1111');
  });
});

describe('real server: COPY and settings', () => {
  it.each(['text', 'csv', 'binary'])('masks COPY TO STDOUT (FORMAT %s)', async (format) => {
    const out = await masked(
      F.query(`COPY (SELECT id, card, row(card, ssn) FROM people ORDER BY id) TO STDOUT (FORMAT ${format})`),
      new ResultMasker(detectorsOnly),
    );
    const text = out.toString('latin1');
    expect(text).not.toContain(CARD);
    expect(text).not.toContain(SSN);
    expect(text).toContain('************1111');
    const msgs = await parseWithPgProtocol(out);
    expect(msgs.filter((m) => m.name === 'copyData').length).toBeGreaterThan(0);
    expect(msgs.at(-2)).toMatchObject({ name: 'commandComplete', text: 'COPY 50' });
  });

  it('masks application_name reported back in ParameterStatus', async () => {
    const out = await masked(F.query(`SET application_name = '${CARD}'`), new ResultMasker(detectorsOnly));
    const status = (await parseWithPgProtocol(out)).find((m) => m.name === 'parameterStatus');
    expect(status).toMatchObject({ parameterName: 'application_name', parameterValue: '************1111' });
    await query('RESET application_name');
  });
});
