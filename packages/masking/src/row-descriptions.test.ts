import {
  BackendSerializer as S,
  decodeDataRow,
  type FieldDescriptionInput,
  type TypedFrontendMessage,
} from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_STRATEGIES, ResultMasker } from './index.js';
import { T, b, fm, framesOf, key, plan, rows } from './test-fixtures.js';
import { byteChunks, run } from './test-helpers.js';

describe('ResultMasker: which RowDescription applies', () => {
  it('untracked: the latest RowDescription applies; unknown formats are recognised per cell', async () => {
    // Parse/Describe(statement)/Bind(binary results)/Execute: the RowDescription says text, rows are binary.
    const jsonb = Buffer.concat([Buffer.from([1]), b('{"e":"a@b.com"}')]);
    const input = Buffer.concat([
      S.parseComplete(),
      S.parameterDescription([]),
      S.rowDescription([
        { name: 'doc', tableOID: T, columnAttr: 5, dataTypeOID: 3802 },
        { name: 'account', tableOID: T, columnAttr: 6, dataTypeOID: 20 },
        { name: 'ssn', tableOID: T, columnAttr: 3, dataTypeOID: 1043 },
      ]),
      S.bindComplete(),
      S.dataRow([jsonb, Buffer.alloc(8, 0x31), b('123-45-6789')]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    const frames = framesOf(run(new ResultMasker(plan), [input]));
    const cells = decodeDataRow(frames.find((f) => f[0] === 0x44)!);
    expect(cells[0]![0]).toBe(1);
    expect(JSON.parse(cells[0]!.subarray(1).toString())).toEqual({ e: '[REDACTED:email]' });
    expect(cells[1]).toBeNull(); // text or binary int8? Unknowable: NULL
    expect(cells[2]!.toString()).toBe('*****6789');
  });

  it('rows without a RowDescription: NULL with column rules (fail closed), detectors without', async () => {
    const input = Buffer.concat([
      S.bindComplete(),
      S.dataRow([b('ada@example.com'), b('123-45-6789'), null]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    const m = new ResultMasker(plan);
    expect((await rows(run(m, [input])))[0]).toEqual([null, null, null]);
    expect(m.counts()).toEqual({ unknown_row: 1 });
    const d = new ResultMasker({ detectors: DEFAULT_DETECTOR_STRATEGIES });
    expect((await rows(run(d, [input])))[0]).toEqual(['[REDACTED:email]', '[REDACTED:us_ssn]', null]);
  });

  it('tracked: executing a statement described earlier uses its columns and the Bind formats', async () => {
    const stmtFields: FieldDescriptionInput[] = [
      { name: 'ssn', tableOID: T, columnAttr: 3, dataTypeOID: 1043 },
      { name: 'account', tableOID: T, columnAttr: 6, dataTypeOID: 20 },
    ];
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(7000n);
    const frontend: TypedFrontendMessage[] = [
      fm({ kind: 'parse', name: 's1', query: 'select ssn, account from customers', paramTypes: [] }),
      fm({ kind: 'describe', target: 'S', name: 's1' }),
      fm({ kind: 'sync' }),
      fm({ kind: 'parse', name: 's2', query: 'select 1', paramTypes: [] }),
      fm({ kind: 'describe', target: 'S', name: 's2' }),
      fm({ kind: 'sync' }),
      fm({ kind: 'bind', portal: '', statement: 's1', paramFormats: [], params: [], resultFormats: [1] }),
      fm({ kind: 'execute', portal: '', maxRows: 0 }),
      fm({ kind: 'sync' }),
    ];
    const backend = Buffer.concat([
      S.parseComplete(),
      S.parameterDescription([]),
      S.rowDescription(stmtFields),
      S.readyForQuery('I'),
      S.parseComplete(),
      S.parameterDescription([]),
      S.rowDescription([
        { name: 'x', dataTypeOID: 23 },
        { name: 'y', dataTypeOID: 23 },
      ]),
      S.readyForQuery('I'),
      S.bindComplete(),
      S.dataRow([b('123-45-6789'), int8]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    const m = new ResultMasker(plan, { trackFrontend: true, hashKey: key });
    for (const f of frontend) m.frontend(f);
    const cells = decodeDataRow(framesOf(run(m, byteChunks(backend))).find((f) => f[0] === 0x44)!);
    expect(cells[0]!.toString()).toBe('*****6789');
    expect(cells[1]!.length).toBe(8); // binary, as Bind asked: a typed hash
    expect(cells[1]!.readBigInt64BE(0)).not.toBe(7000n);
    // Untracked, the same stream would have applied s2's (unmasked) columns; it falls back to NULLs instead.
    const u = new ResultMasker(plan);
    expect(decodeDataRow(framesOf(run(u, [backend])).find((f) => f[0] === 0x44)!)).toEqual([null, null]);
  });

  it('tracked: discards failed extended-protocol messages up to Sync', async () => {
    const m = new ResultMasker(plan, { trackFrontend: true });
    for (const f of [
      fm({ kind: 'parse', name: '', query: 'bad', paramTypes: [] }),
      fm({ kind: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] }),
      fm({ kind: 'execute', portal: '', maxRows: 0 }),
      fm({ kind: 'sync' }),
      fm({ kind: 'query', text: 'select ssn from customers' }),
    ])
      m.frontend(f);
    const input = Buffer.concat([
      S.errorResponse({ severity: 'ERROR', code: '42601', message: 'syntax error' }),
      S.readyForQuery('I'),
      S.rowDescription([{ name: 'ssn', tableOID: T, columnAttr: 3, dataTypeOID: 1043 }]),
      S.dataRow([b('123-45-6789')]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    expect((await rows(run(m, [input])))[0]).toEqual(['*****6789']);
  });

  it('tracked: a frontend/backend mismatch stops tracking and fails closed', async () => {
    const m = new ResultMasker(plan, { trackFrontend: true });
    expect(m.tracking).toBe('ok');
    m.frontend(fm({ kind: 'query', text: 'select 1' }));
    // A BindComplete nobody asked for: the caller did not pass every frontend message.
    const input = Buffer.concat([
      S.bindComplete(),
      S.rowDescription([{ name: 'notes', dataTypeOID: 25 }]),
      S.dataRow([b('plain')]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    expect((await rows(run(m, [input])))[0]).toEqual([null]);
    expect(m.tracking).toBe('lost');
    expect(new ResultMasker(plan).tracking).toBe('off');
  });
});
