import { BackendSerializer as S, decodeDataRow } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_STRATEGIES, ResultMasker } from './index.js';
import { WITHHELD_TEXT } from './notices.js';
import { b, framesOf, lengthPrefixed, plan, rows } from './test-fixtures.js';
import { parseWithPgProtocol, run } from './test-helpers.js';

describe('ResultMasker: JSON, arrays, notices, COPY', () => {
  it('masks JSON safely: escapes, numbers, values crossing strings', async () => {
    const cases: [string, unknown][] = [
      ['{"a":"x\\na@b.com"}', { a: 'x\n[REDACTED:email]' }],
      ['{"a@b.com": 4242424242424242}', { '[REDACTED:email]': '************4242' }],
      ['["-----BEGIN PRIVATE KEY-----\\nMII"]', '[REDACTED:pem_private_key]'],
      ['{"u":"\\u0041a@b.com"}', { u: 'A[REDACTED:email]' }],
    ];
    for (const [json, expected] of cases) {
      const input = Buffer.concat([S.rowDescription([{ name: 'j', dataTypeOID: 114 }]), S.dataRow([b(json)])]);
      const [r] = await rows(run(new ResultMasker(plan), [input]));
      expect(JSON.parse(r![0]!), json).toEqual(expected);
    }
  });

  it('masks text arrays in text and binary format', async () => {
    const textArr = Buffer.concat([
      S.rowDescription([{ name: 'a', dataTypeOID: 1009 }]),
      S.dataRow([b('{a@b.com,"x y",NULL}')]),
    ]);
    expect((await rows(run(new ResultMasker(plan), [textArr])))[0]![0]).toBe('{[REDACTED:email],"x y",NULL}');
    const els = [b('a@b.com'), null, b('plain')];
    const head = Buffer.alloc(20);
    head.writeInt32BE(1, 0);
    head.writeInt32BE(1, 4);
    head.writeUInt32BE(25, 8);
    head.writeInt32BE(3, 12);
    head.writeInt32BE(1, 16);
    const binArr = Buffer.concat([head, ...els.map((e) => lengthPrefixed(e))]);
    const input = Buffer.concat([S.rowDescription([{ name: 'a', dataTypeOID: 1009, format: 1 }]), S.dataRow([binArr])]);
    const cell = decodeDataRow(framesOf(run(new ResultMasker(plan), [input]))[1]!)[0]!;
    expect(cell.subarray(0, 20).equals(head)).toBe(true);
    expect(cell.subarray(20).equals(Buffer.concat([b('[REDACTED:email]'), null, b('plain')].map(lengthPrefixed)))).toBe(
      true,
    );
  });

  it('masks ErrorResponse and NoticeResponse fields, keeping the rest', async () => {
    const input = Buffer.concat([
      S.errorResponse({
        severity: 'ERROR',
        code: '22P02',
        message: 'invalid input syntax for type integer: "ada@example.com"',
        hint: 'card 4242424242424242',
        routine: 'pg_strtoint32',
      }),
      S.errorResponse({
        severity: 'ERROR',
        code: '23505',
        message: 'duplicate key value violates unique constraint "c_ssn"',
        detail: 'Key (ssn)=(123456789) already exists.',
      }),
      S.noticeResponse({ severity: 'NOTICE', code: '00000', message: 'sent to 10.1.2.3' }),
    ]);
    const msgs = await parseWithPgProtocol(run(new ResultMasker(plan), [input]));
    expect(msgs[0]!.message).toBe('invalid input syntax for type integer: "[REDACTED:email]"');
    expect(msgs[0]!.hint).toBe(WITHHELD_TEXT); // column rules: hints can quote values
    expect(msgs[0]!.routine).toBe('pg_strtoint32');
    expect(msgs[1]!.detail).toBe(WITHHELD_TEXT);
    expect(msgs[1]!.message).toBe('duplicate key value violates unique constraint "c_ssn"');
    expect(msgs[2]!.message).toBe('sent to [REDACTED:ipv4]');
    // Without column rules, details and hints only get the detectors.
    const det = await parseWithPgProtocol(run(new ResultMasker({ detectors: DEFAULT_DETECTOR_STRATEGIES }), [input]));
    expect(det[0]!.hint).toBe('card ************4242');
    expect(det[1]!.detail).toBe('Key (ssn)=(123456789) already exists.');
  });

  it('masks notification payloads and text COPY TO STDOUT lines; binary COPY is decoded', async () => {
    const binCopy = Buffer.concat([
      Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
      Buffer.alloc(8), // flags, header extension length
      Buffer.from([0, 1]), // one field
      lengthPrefixed(b('a@b.com')),
      Buffer.from([0xff, 0xff]), // trailer
    ]);
    const input = Buffer.concat([
      S.notificationResponse(42, 'chan', 'user a@b.com signed up'),
      S.copyOutResponse(0, [0, 0]),
      S.copyData(b('1\tada@example.com\n')),
      S.copyData(b('2\tplain\n')),
      S.copyDone(),
      S.commandComplete('COPY 2'),
      S.copyOutResponse(1, [1]),
      S.copyData(binCopy),
      S.copyDone(),
      S.commandComplete('COPY 1'),
      S.readyForQuery('I'),
    ]);
    const msgs = await parseWithPgProtocol(run(new ResultMasker(plan), [input]));
    expect(msgs[0]!.payload).toBe('user [REDACTED:email] signed up');
    const copy = msgs.filter((x) => x.name === 'copyData').map((x) => Buffer.from(x.chunk).toString('latin1'));
    expect(copy.slice(0, 2)).toEqual(['1\t[REDACTED:email]\n', '2\tplain\n']);
    expect(copy[2]).toBe(
      binCopy.toString('latin1').replace('a@b.com', '[REDACTED:email]').replace('\0\0\0\x07', '\0\0\0\x10'),
    );
  });
});
