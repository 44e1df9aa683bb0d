// Values in errors, notices, settings, function results, binary cells and binary COPY (issue 22,
// class 6): nothing a detector or column rule covers passes, in any of them.
import { BackendSerializer as S, decodeDataRow, ProtocolViolation } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_STRATEGIES, ResultMasker, type MaskingPlan } from './index.js';
import { WITHHELD_TEXT } from './notices.js';
import { b, framesOf, lengthPrefixed, plan, T } from './test-fixtures.js';
import { parseWithPgProtocol, randomChunks, rng, run } from './test-helpers.js';

const CARD = '4111111111111111';
const detectorsOnly: MaskingPlan = { detectors: DEFAULT_DETECTOR_STRATEGIES };

function int32(n: number): Buffer {
  const x = Buffer.alloc(4);
  x.writeInt32BE(n);
  return x;
}
function int16(n: number): Buffer {
  const x = Buffer.alloc(2);
  x.writeInt16BE(n);
  return x;
}

/** array_send of a one-dimensional array. */
function binArray(elementOid: number, elements: (Buffer | null)[]): Buffer {
  return Buffer.concat([
    int32(1),
    int32(elements.includes(null) ? 1 : 0),
    int32(elementOid),
    int32(elements.length),
    int32(1),
    ...elements.map(lengthPrefixed),
  ]);
}

/** record_send. */
function binRecord(fields: [oid: number, value: Buffer | null][]): Buffer {
  return Buffer.concat([int32(fields.length), ...fields.flatMap(([oid, v]) => [int32(oid), lengthPrefixed(v)])]);
}

/** One binary cell of type `oid` through the masker; returns the output cell. */
function maskBinaryCell(oid: number, cell: Buffer, p: MaskingPlan = detectorsOnly, format: 0 | 1 = 1): Buffer | null {
  const input = Buffer.concat([S.rowDescription([{ name: 'v', dataTypeOID: oid, format }]), S.dataRow([cell])]);
  return decodeDataRow(framesOf(run(new ResultMasker(p), [input]))[1]!)[0]!;
}

describe('errors and notices with column rules in force', () => {
  const failingRow = `Failing row contains (1, Ada, 123-45-6789, ${CARD}).`;

  it.each([
    ['44000', 'new row violates check option for view "v_customers"'],
    ['23502', 'null value in column "name" of relation "customers" violates not-null constraint'],
    ['23P01', 'conflicting key value violates exclusion constraint "no_overlap"'],
    ['P0001', 'trigger says no'],
  ])('withholds detail, hint, context and internal query of SQLSTATE %s', async (code, message) => {
    const frame = S.errorResponse({
      severity: 'ERROR',
      code,
      message,
      detail: failingRow,
      hint: 'value was 123456789',
      where: 'PL/pgSQL function check_row() line 3 at RAISE',
      internalQuery: "SELECT '123456789'",
      schema: 'public',
      table: 'customers',
      column: '123456789',
      constraint: 'c_name',
      routine: 'ExecConstraints',
    });
    const masker = new ResultMasker(plan);
    const [m] = await parseWithPgProtocol(run(masker, [frame]));
    expect(m).toMatchObject({
      name: 'error',
      severity: 'ERROR',
      code,
      message,
      detail: WITHHELD_TEXT,
      hint: WITHHELD_TEXT,
      where: WITHHELD_TEXT,
      internalQuery: WITHHELD_TEXT,
      routine: 'ExecConstraints',
    });
    // Object-name fields can be set to anything by RAISE … USING: dropped.
    for (const f of ['schema', 'table', 'column', 'constraint'] as const) expect(m![f]).toBeUndefined();
    expect(masker.counts()).toMatchObject({ notice_detail: 1 });
  });

  it('keeps the message of a notice and runs the detectors on it', async () => {
    const frame = S.noticeResponse({
      severity: 'NOTICE',
      code: '00000',
      message: `row ${CARD} skipped`,
      where: 'SQL statement "SELECT 1"',
    });
    const [m] = await parseWithPgProtocol(run(new ResultMasker(plan), [frame]));
    expect(m).toMatchObject({ severity: 'NOTICE', message: 'row ************1111 skipped', where: WITHHELD_TEXT });
  });

  it('without column rules, runs the detectors on every field that can carry text', async () => {
    const frame = S.errorResponse({
      severity: 'ERROR',
      code: '23514',
      message: 'new row violates check constraint',
      detail: failingRow,
      where: `PL/pgSQL function f(text) line 1, argument ${CARD}`,
      constraint: 'ada@example.com',
    });
    const [m] = await parseWithPgProtocol(run(new ResultMasker(detectorsOnly), [frame]));
    expect(m!.detail).toBe('Failing row contains (1, Ada, [REDACTED:us_ssn], ************1111).');
    expect(m!.where).toBe('PL/pgSQL function f(text) line 1, argument ************1111');
    expect(m!.constraint).toBe('[REDACTED:email]');
  });

  it('ends the session on a malformed ErrorResponse rather than forward it unread', () => {
    const bad = Buffer.from([0x45, 0, 0, 0, 8, 0x4d, 0x61, 0x62, 0x63]); // M field without NUL
    expect(() => new ResultMasker(plan).push(bad)).toThrow(ProtocolViolation);
  });
});

describe('settings, notifications and function results', () => {
  it('masks ParameterStatus values (application_name set to a card number)', async () => {
    const input = Buffer.concat([S.parameterStatus('application_name', `app ${CARD}`), S.readyForQuery('I')]);
    const [m] = await parseWithPgProtocol(run(new ResultMasker(detectorsOnly), [input]));
    expect(m).toMatchObject({
      name: 'parameterStatus',
      parameterName: 'application_name',
      parameterValue: 'app ************1111',
    });
  });

  it('masks notification channels and payloads', async () => {
    const [m] = await parseWithPgProtocol(
      run(new ResultMasker(detectorsOnly), [S.notificationResponse(7, CARD, 'to ada@example.com')]),
    );
    expect(m).toMatchObject({ processId: 7, channel: '************1111', payload: 'to [REDACTED:email]' });
  });

  it('masks a FunctionCallResponse by detectors, or withholds it under column rules', () => {
    const frame = Buffer.concat([Buffer.from([0x56]), int32(8 + CARD.length), lengthPrefixed(b(CARD))]);
    const detected = run(new ResultMasker(detectorsOnly), [frame]);
    expect(detected.subarray(9).toString()).toBe('************1111');
    expect(detected.readInt32BE(5)).toBe(16);
    const withheld = run(new ResultMasker(plan), [frame]);
    expect(withheld.readInt32BE(5)).toBe(-1);
    expect(withheld.length).toBe(9);
  });
});

describe('binary result formats', () => {
  it('masks text-like elements of a binary text[] and jsonb[]', () => {
    const arr = maskBinaryCell(1009, binArray(25, [b(`card ${CARD}`), null, b('plain')]))!;
    expect(arr.equals(binArray(25, [b('card ************1111'), null, b('plain')]))).toBe(true);
    const jsonb = Buffer.concat([Buffer.from([1]), b(`{"c": "${CARD}"}`)]);
    const out = maskBinaryCell(3807, binArray(3802, [jsonb]))!;
    expect(out.equals(binArray(3802, [Buffer.concat([Buffer.from([1]), b('{"c": "************1111"}')])]))).toBe(true);
  });

  it('decodes binary records recursively: fields of text, arrays and nested records', () => {
    const inner = binRecord([[25, b(`ada@example.com`)]]);
    const cell = binRecord([
      [23, int32(42)],
      [25, b(CARD)],
      [1009, binArray(25, [b('x'), b('123-45-6789')])],
      [2249, inner],
      [25, null],
    ]);
    const out = maskBinaryCell(2249, cell)!;
    const expected = binRecord([
      [23, int32(42)],
      [25, b('************1111')],
      [1009, binArray(25, [b('x'), b('[REDACTED:us_ssn]')])],
      [2249, binRecord([[25, b('[REDACTED:email]')]])],
      [25, null],
    ]);
    expect(out.equals(expected)).toBe(true);
  });

  it('decodes a user composite type (OID unknown to the masker) as a record', () => {
    const out = maskBinaryCell(
      20000,
      binRecord([
        [25, b(CARD)],
        [20, Buffer.alloc(8)],
      ]),
    )!;
    expect(
      out.equals(
        binRecord([
          [25, b('************1111')],
          [20, Buffer.alloc(8)],
        ]),
      ),
    ).toBe(true);
  });

  it('an element withheld as NULL sets the array has-nulls flag', () => {
    // An element of unknown type with a finding in its bytes is withheld.
    const opaque = Buffer.concat([Buffer.from([2]), b(` ${CARD}`)]);
    const out = maskBinaryCell(2277, binArray(20001, [opaque, b('plain')]))!;
    expect(out.equals(binArray(20001, [null, b('plain')]))).toBe(true);
    expect(out.readInt32BE(4)).toBe(1);
  });

  it('masks anyarray (pg_stats.most_common_vals) in text and binary format', () => {
    const text = maskBinaryCell(2277, b(`{${CARD},plain}`), detectorsOnly, 0)!;
    expect(text.toString()).toBe('{************1111,plain}');
    const bin = maskBinaryCell(2277, binArray(25, [b(CARD), b('plain')]))!;
    expect(bin.equals(binArray(25, [b('************1111'), b('plain')]))).toBe(true);
  });

  it('masks tsvector and tsquery: text literals in place, binary values withheld on a finding', () => {
    expect(maskBinaryCell(3614, b(`'${CARD}':1 'plain':2`), detectorsOnly, 0)!.toString()).toBe(
      `'************1111':1 'plain':2`,
    );
    expect(maskBinaryCell(3615, b(`'${CARD}' & 'plain'`), detectorsOnly, 0)!.toString()).toBe(
      `'************1111' & 'plain'`,
    );
    const lexeme = (s: string, positions: number[]) =>
      Buffer.concat([b(s), Buffer.from([0]), int16(positions.length), ...positions.map(int16)]);
    const tsvector = (words: Buffer[]) => Buffer.concat([int32(words.length), ...words]);
    expect(maskBinaryCell(3614, tsvector([lexeme(CARD, [1]), lexeme('plain', [2, 3])]))).toBeNull();
    const clean = tsvector([lexeme('plain', [1])]);
    expect(maskBinaryCell(3614, clean)!.equals(clean)).toBe(true);
    const operand = (s: string) => Buffer.concat([Buffer.from([1, 0, 0]), b(s), Buffer.from([0])]);
    const tsquery = Buffer.concat([int32(3), operand(CARD), operand('plain'), Buffer.from([2, 4]), int16(1)]);
    expect(maskBinaryCell(3615, tsquery)).toBeNull();
  });

  it('binary values of unknown layout: masked in place when known as text, else withheld on a finding', () => {
    // An enum or citext: the agent passes their OIDs as textTypes.
    const asText = maskBinaryCell(20002, b(`${CARD}`), { ...detectorsOnly, textTypes: [20002] })!;
    expect(asText.toString()).toBe('************1111');
    expect(maskBinaryCell(20002, b(`${CARD}`))).toBeNull();
    expect(maskBinaryCell(20002, b('plain enum label'))!.toString()).toBe('plain enum label');
    // An hstore-like layout (count, then length-prefixed keys and values) that is neither array nor record.
    const hstore = Buffer.concat([int32(1), lengthPrefixed(b('card')), lengthPrefixed(b(CARD))]);
    expect(maskBinaryCell(20003, hstore)).toBeNull();
    // A length word whose low byte is a letter (65 = "A") right before the value.
    const long = `${CARD} ${'x'.repeat(48)}`;
    const lettered = Buffer.concat([int32(1), lengthPrefixed(b('k')), lengthPrefixed(b(long))]);
    expect(lettered.toString('latin1')).toContain(`A${CARD}`);
    expect(maskBinaryCell(20003, lettered)).toBeNull();
  });

  it('withholds a binary record or array that does not decode', () => {
    expect(maskBinaryCell(2249, Buffer.concat([int32(1), int32(25), int32(100), b('short')]))).toBeNull();
    expect(maskBinaryCell(1009, Buffer.concat([int32(7), int32(0), int32(25)]))).toBeNull();
  });

  it('decides unknown formats (Describe statement, untracked) by the first byte', () => {
    const fields = [{ name: 'r', dataTypeOID: 2249 }];
    const record = binRecord([[25, b(CARD)]]);
    const input = Buffer.concat([
      S.parameterDescription([]),
      S.rowDescription(fields),
      S.bindComplete(),
      S.dataRow([record]),
      S.dataRow([b(`(${CARD},x)`)]),
    ]);
    const frames = framesOf(run(new ResultMasker(detectorsOnly), [input]));
    expect(decodeDataRow(frames[3]!)[0]!.equals(binRecord([[25, b('************1111')]]))).toBe(true);
    expect(decodeDataRow(frames[4]!)[0]!.toString()).toBe('(************1111,x)');
  });

  it('leaves clean binary rows byte for byte unchanged', () => {
    const input = Buffer.concat([
      S.rowDescription([
        { name: 'r', dataTypeOID: 2249, format: 1 },
        { name: 'a', dataTypeOID: 2277, format: 1 },
      ]),
      S.dataRow([binRecord([[25, b('plain')]]), binArray(25, [b('a'), b('b')])]),
    ]);
    expect(run(new ResultMasker(detectorsOnly), [input]).equals(input)).toBe(true);
  });

  it('column rules still withhold binary values of user types and arrays', () => {
    const input = Buffer.concat([
      S.rowDescription([{ name: 'r', tableOID: T, columnAttr: 3, dataTypeOID: 20000, format: 1 }]),
      S.dataRow([binRecord([[25, b('no pii')]])]),
    ]);
    expect(decodeDataRow(framesOf(run(new ResultMasker(plan), [input]))[1]!)[0]).toBeNull();
  });
});

describe('binary COPY TO STDOUT', () => {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), int32(0), int32(0)]);
  const tuple = (fields: (Buffer | null)[]) => Buffer.concat([int16(fields.length), ...fields.map(lengthPrefixed)]);
  const trailer = int16(-1);
  const stream = Buffer.concat([
    header,
    tuple([int32(1), b(`card ${CARD}`), null, binRecord([[25, b('ada@example.com')]])]),
    tuple([int32(2), b('plain'), Buffer.from([0xff, 0xfe, ...b(CARD)]), binArray(25, [b('x')])]),
    trailer,
  ]);
  const expected = Buffer.concat([
    header,
    tuple([int32(1), b('card ************1111'), null, binRecord([[25, b('[REDACTED:email]')]])]),
    tuple([int32(2), b('plain'), null, binArray(25, [b('x')])]),
    trailer,
  ]);

  function copyOut(data: Buffer[]): Buffer {
    return Buffer.concat([
      S.copyOutResponse(1, [1, 1, 1, 1]),
      ...data.map((d) => S.copyData(d)),
      S.copyDone(),
      S.commandComplete('COPY 2'),
      S.readyForQuery('I'),
    ]);
  }

  async function copied(out: Buffer): Promise<Buffer> {
    const msgs = await parseWithPgProtocol(out);
    return Buffer.concat(msgs.filter((m) => m.name === 'copyData').map((m) => Buffer.from(m.chunk as Uint8Array)));
  }

  it('masks text fields in place and withholds other fields with a finding', async () => {
    expect(await copied(run(new ResultMasker(detectorsOnly), [copyOut([stream])]))).toEqual(expected);
  });

  it('decodes tuples split anywhere across CopyData messages and chunks', async () => {
    const random = rng(22);
    for (let trial = 0; trial < 50; trial++) {
      const cuts = [
        0,
        ...[1, 2, 3].map(() => Math.floor(random() * stream.length)).sort((x, y) => x - y),
        stream.length,
      ];
      const pieces = cuts.slice(1).map((c, i) => stream.subarray(cuts[i], c));
      const input = copyOut(pieces);
      const out = run(new ResultMasker(detectorsOnly), randomChunks(input, random));
      expect(await copied(out)).toEqual(expected);
    }
  });

  it('ends the session on a stream that is not binary COPY', () => {
    const input = copyOut([Buffer.concat([b('NOTCOPY\n\xff\r\n\0'), int32(0), int32(0)])]);
    expect(() => new ResultMasker(detectorsOnly).push(input)).toThrow(/signature/);
  });

  it('refuses CopyBoth (replication) streams on a masked connection', () => {
    const both = Buffer.concat([Buffer.from([0x57]), int32(7), Buffer.from([0]), int16(0)]);
    expect(() => new ResultMasker(detectorsOnly).push(both)).toThrow(/CopyBoth/);
    expect(new ResultMasker({}).push(both)).toEqual([both]);
  });
});
