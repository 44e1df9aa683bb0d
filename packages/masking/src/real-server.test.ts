// Against the real Postgres the test environment provides (see real-server-connection.ts).
import {
  BackendCode,
  BackendSplitter,
  decodeDataRow,
  decodeRowDescription,
  serializeFrontend as F,
} from '@warden/pg-wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COLUMN_CATALOG_QUERY,
  DEFAULT_DETECTOR_STRATEGIES,
  ResultMasker,
  catalogLookup,
  catalogQueryParams,
  resolveColumnRules,
  type CatalogRow,
  type ColumnRuleConfig,
  type MaskingPlan,
} from './index.js';
import { frontendMessages, RawConnection } from './real-server-connection.js';
import { parseWithPgProtocol } from './test-helpers.js';

function textArray(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

const secrets = [
  'ada@example.com',
  'grace.hopper@navy.mil',
  '4242 4242 4242 4242',
  '5555555555554444',
  '123-45-6789',
  '078-05-1120',
  'ada.l@example.org',
];
const plainValues = ['Ada Lovelace', 'Grace Hopper', 'plain note', 'London', 'Arlington'];

describe('ResultMasker against a real Postgres', () => {
  let conn: RawConnection;
  let plan: MaskingPlan;

  beforeAll(async () => {
    conn = await RawConnection.open();
    await conn.request(
      F.query(`
        CREATE TEMP TABLE customers (id int PRIMARY KEY, name text, email text, card text, ssn text,
                                     city varchar(40), note text, profile jsonb, account int8);
        INSERT INTO customers VALUES
          (1, 'Ada Lovelace', 'ada@example.com', '4242 4242 4242 4242', '123-45-6789', 'London', 'plain note',
           '{"backup_email": "ada.l@example.org", "vip": true}', 1001),
          (2, 'Grace Hopper', 'grace.hopper@navy.mil', '5555555555554444', '078-05-1120', 'Arlington',
           'card on file: 5555555555554444', '{"n": 1}', 1002);`),
    );
    // Resolve column rules with the catalog query, over the extended protocol.
    const rules: ColumnRuleConfig[] = [
      { column: 'pg_temp.customers.ssn', strategy: 'last4' },
      { column: 'pg_temp.customers.account', strategy: 'hash' },
    ];
    const chunks = await conn.request(
      Buffer.concat([
        F.parse({ text: COLUMN_CATALOG_QUERY, types: [] }),
        F.bind({ values: catalogQueryParams(rules).map(textArray) }),
        F.describe({ type: 'P' }),
        F.execute({}),
        F.sync(),
      ]),
    );
    const frames = new BackendSplitter().split(Buffer.concat(chunks));
    const names = decodeRowDescription(frames.find((f) => f[0] === BackendCode.RowDescription)!).map((f) => f.name);
    const rows = frames
      .filter((f) => f[0] === BackendCode.DataRow)
      .map(
        (f) => Object.fromEntries(decodeDataRow(f).map((c, i) => [names[i], c?.toString()])) as unknown as CatalogRow,
      );
    expect(rows.map((r) => [r.column, Number(r.attnum)])).toEqual([
      ['ssn', 5],
      ['account', 9],
    ]);
    const { columns, unresolved } = resolveColumnRules(rules, catalogLookup(rows));
    expect(unresolved).toEqual([]);
    plan = { columns, detectors: DEFAULT_DETECTOR_STRATEGIES };
  });

  afterAll(() => conn?.close());

  function check(out: Buffer): void {
    const text = out.toString('latin1');
    for (const s of secrets) expect(text, s).not.toContain(s);
    for (const p of plainValues) expect(text, p).toContain(p);
  }

  it('masks a simple-protocol SELECT (text format)', async () => {
    const chunks = await conn.request(F.query('SELECT * FROM customers ORDER BY id'));
    expect(Buffer.concat(chunks).toString('latin1')).toContain('123-45-6789'); // the raw response has it
    const masker = new ResultMasker(plan);
    const out = Buffer.concat(chunks.flatMap((c) => masker.push(c)));
    check(out);
    const msgs = await parseWithPgProtocol(out);
    const rows = msgs.filter((m) => m.name === 'dataRow').map((m) => m.fields as (string | null)[]);
    expect(rows[0]).toEqual([
      '1',
      'Ada Lovelace',
      '[REDACTED:email]',
      '************4242',
      '*****6789',
      'London',
      'plain note',
      expect.stringContaining('"[REDACTED:email]"'),
      expect.stringMatching(/^\d+$/),
    ]);
    expect(JSON.parse(rows[0]![7]!)).toEqual({ backup_email: '[REDACTED:email]', vip: true });
    expect(rows[1]![6]).toBe('card on file: ************4444');
    expect(masker.counts()).toMatchObject({
      email: 3,
      credit_card: 3,
      'column:pg_temp.customers.ssn': 2,
      'column:pg_temp.customers.account': 2,
    });
  });

  it('masks an extended-protocol SELECT with binary results (tracked)', async () => {
    const request = Buffer.concat([
      F.parse({ name: 'sel', text: 'SELECT * FROM customers WHERE id > $1 ORDER BY id', types: [23] }),
      F.describe({ type: 'S', name: 'sel' }),
      F.bind({ statement: 'sel', values: ['0'], binary: true }),
      F.execute({}),
      F.sync(),
    ]);
    const masker = new ResultMasker(plan, { trackFrontend: true });
    for (const m of frontendMessages(request)) masker.frontend(m);
    const chunks = await conn.request(request);
    const out = Buffer.concat(chunks.flatMap((c) => masker.push(c)));
    check(out);
    await parseWithPgProtocol(out);
    const row = decodeDataRow(new BackendSplitter().split(out).find((f) => f[0] === BackendCode.DataRow)!);
    expect(row[0]!.readInt32BE(0)).toBe(1);
    expect(row[7]![0]).toBe(1); // jsonb binary version byte kept
    expect(JSON.parse(row[7]!.subarray(1).toString())).toEqual({ backup_email: '[REDACTED:email]', vip: true });
    expect(row[8]!.length).toBe(8);
    expect(row[8]!.readBigInt64BE(0)).not.toBe(1001n);
  });

  it('masks values quoted in error messages', async () => {
    const chunks = await conn.request(F.query("SELECT 'ada@example.com'::int"));
    const masker = new ResultMasker(plan);
    const msgs = await parseWithPgProtocol(...chunks.flatMap((c) => masker.push(c)));
    expect(msgs[0]!.message).toBe('invalid input syntax for type integer: "[REDACTED:email]"');
  });
});
