import { BackendSerializer as S, decodeDataRow, ProtocolViolation } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { ResultMasker } from './index.js';
import { T, key, b, plan, fields, row, stream, rows, framesOf } from './test-fixtures.js';
import { byteChunks, parseWithPgProtocol, randomChunks, rng, run } from './test-helpers.js';

describe('ResultMasker', () => {
  it('masks text-format rows by column rule and detector, with valid lengths', async () => {
    const m = new ResultMasker(plan, { hashKey: key });
    const out = run(m, [stream(0)]);
    const [r1, r2] = await rows(out);
    expect(r1![0]).toBe('1');
    expect(r1![1]).toBe('[REDACTED:email]');
    expect(r1![2]).toBe('*****6789');
    expect(r1![3]).toBe('call [REDACTED:phone]');
    expect(JSON.parse(r1![4]!)).toEqual({ card: '************4242', n: '************1111', ok: 'plain' });
    expect(r1![5]).toMatch(/^\d+$/);
    expect(r1![5]).not.toBe('1000');
    expect(r1![6]).toBeNull(); // numeric under redact: NULL, not an invalid number
    expect(r2![1]).toBeNull();
    expect(r2![3]).toBe('nothing to see');
    expect(m.counts()).toEqual({
      email: 1,
      phone: 1,
      credit_card: 4,
      'column:public.customers.ssn': 2,
      'column:public.customers.account': 2,
      'column:public.customers.balance': 2,
    });
    // Deterministic per key: the same input hashes the same in another masker with that key.
    const again = await rows(run(new ResultMasker(plan, { hashKey: key }), [stream(0)]));
    expect(again[0]![5]).toBe(r1![5]);
  });

  it('masks binary-format rows: text = bytes, jsonb version byte, typed hash, NULL for others', async () => {
    const m = new ResultMasker(plan, { hashKey: key });
    const out = run(m, [stream(1)]);
    await parseWithPgProtocol(out); // wire-valid
    const frames = framesOf(out).filter((f) => f[0] === 0x44);
    const c = decodeDataRow(frames[0]!);
    expect(c[0]!.readInt32BE(0)).toBe(1);
    expect(c[1]!.toString()).toBe('[REDACTED:email]');
    expect(c[2]!.toString()).toBe('*****6789');
    expect(c[4]![0]).toBe(1);
    expect(JSON.parse(c[4]!.subarray(1).toString())).toEqual({
      card: '************4242',
      n: '************1111',
      ok: 'plain',
    });
    expect(c[5]!.length).toBe(8);
    const textHash = (await rows(run(new ResultMasker(plan, { hashKey: key }), [stream(0)])))[0]![5];
    expect(c[5]!.readBigInt64BE(0).toString()).toBe(textHash); // same value in both formats
    expect(c[6]).toBeNull();
  });

  it('gives the same bytes whatever the chunking, byte by byte included', () => {
    const input = Buffer.concat([stream(0), stream(1)]);
    const whole = run(new ResultMasker(plan, { hashKey: key }), [input]);
    expect(run(new ResultMasker(plan, { hashKey: key }), byteChunks(input)).equals(whole)).toBe(true);
    const next = rng(7);
    for (let i = 0; i < 20; i++) {
      expect(run(new ResultMasker(plan, { hashKey: key }), randomChunks(input, next, 50)).equals(whole)).toBe(true);
    }
  });

  it('passes clean frames through as zero-copy slices, merged into one write', () => {
    const input = Buffer.concat([
      S.rowDescription(fields(0)),
      S.dataRow([b('1'), b('nobody'), null, b('plain'), b('{}'), null, null]),
      S.dataRow([b('2'), b('somebody'), null, b('text'), b('[]'), null, null]),
      S.commandComplete('SELECT 2'),
      S.readyForQuery('I'),
    ]);
    const out = new ResultMasker(plan).push(input);
    expect(out.length).toBe(1);
    expect(out[0]!.buffer).toBe(input.buffer);
    expect(out[0]!.equals(input)).toBe(true);
  });

  it('applies each RowDescription to its own result set (multiple results)', async () => {
    const input = Buffer.concat([
      S.rowDescription(fields(0)),
      row(0, 1, 'a@b.com', 'x'),
      S.commandComplete('SELECT 1'),
      // Same attribute number 3, other table: the rule must not apply.
      S.rowDescription([{ name: 'code', tableOID: T + 1, columnAttr: 3, dataTypeOID: 25 }]),
      S.dataRow([b('123-45-6780')]),
      S.commandComplete('SELECT 1'),
      S.rowDescription([{ name: 'n', dataTypeOID: 25 }]),
      S.dataRow([b('no pii')]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    const r = await rows(run(new ResultMasker(plan), [input]));
    expect(r[0]![2]).toBe('*****6789');
    expect(r[1]![0]).toBe('[REDACTED:us_ssn]'); // detector, not the column rule
    expect(r[2]![0]).toBe('no pii');
  });

  it('passes everything through untouched with an empty plan', () => {
    const input = Buffer.concat([stream(0), stream(1)]);
    const m = new ResultMasker({});
    expect(run(m, byteChunks(input)).equals(input)).toBe(true);
    m.setPlan(plan);
    expect(run(m, [input]).equals(input)).toBe(false);
  });

  it('resets counts per statement', () => {
    const m = new ResultMasker(plan);
    run(m, [stream(0)]);
    expect(m.takeCounts()['email']).toBe(1);
    expect(m.counts()).toEqual({});
  });

  it('refuses malformed DataRows (fatal)', () => {
    const bad = S.dataRow([b('abc')]);
    bad.writeInt32BE(99, 7); // cell length beyond the message
    const m = new ResultMasker(plan);
    m.push(S.rowDescription([{ name: 'x', dataTypeOID: 25 }]));
    expect(() => m.push(bad)).toThrow(ProtocolViolation);
    try {
      new ResultMasker(plan).push(Buffer.concat([S.rowDescription([{ name: 'x', dataTypeOID: 25 }]), bad]));
    } catch (e) {
      expect((e as ProtocolViolation).fatal).toBe(true);
    }
  });

  it('holds back at most one incomplete frame', () => {
    const m = new ResultMasker(plan);
    const input = stream(0);
    const cut = input.length - 3;
    m.push(input.subarray(0, cut));
    expect(m.bufferedLength).toBeLessThanOrEqual(S.readyForQuery('I').length);
    m.push(input.subarray(cut));
    expect(m.bufferedLength).toBe(0);
  });
});
