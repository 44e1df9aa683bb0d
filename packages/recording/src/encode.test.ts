import { describe, expect, it } from 'vitest';
import { canonicalJson } from './chain.js';
import { encodePayload } from './encode.js';
import type { EventPayload } from './events.js';

const cases: [string, EventPayload][] = [
  ['query', { text: 'SELECT 1', decision: { action: 'allow' } }],
  ['query', { text: 'DROP TABLE "x"\n-- é ✓', decision: { action: 'block', rule: 'no-drop', message: 'no "drops"' } }],
  ['query', { text: 'DELETE FROM t', decision: { action: 'review', rule: 'r', reviewId: 'abc' } }],
  [
    'execute',
    {
      statement: 's1',
      portal: '',
      text: 'SELECT $1, $2, $3',
      params: ['1', null, { b64: 'AAE=' }],
      decision: { action: 'allow' },
    },
  ],
  ['execute', { statement: '', portal: 'p', text: '', params: [], decision: { action: 'allow' }, truncated: true }],
  [
    'result',
    {
      ref: 3,
      tag: 'SELECT 1',
      rowCount: 1,
      bytes: 20,
      ms: 0.123,
      columns: [{ name: 'a"b', typeOid: 23 }],
      rows: [['0', null, { b64: 'AA==' }]],
    },
  ],
  ['result', { ref: null, tag: '', rowCount: 0, bytes: 0, ms: 0 }],
  [
    'result',
    {
      ref: 9,
      tag: 'COPY 2',
      rowCount: 2,
      bytes: 10,
      ms: 1.5,
      copy: { direction: 'out', data: ['1\n', '2\n'] },
      truncated: true,
    },
  ],
  ['error', { ref: 4, code: '22012', message: 'division by zero', severity: 'ERROR', ms: 0.2 }],
  ['notice', { code: '00000', message: 'hi', severity: 'NOTICE' }],
];

describe('encodePayload', () => {
  it.each(cases)('%s payloads encode exactly as canonicalJson', (kind, payload) => {
    expect(encodePayload(kind, payload)).toBe(canonicalJson(payload));
  });

  it('encodes each statement text, statement name and tag anew when they change between events', () => {
    // The encoders keep the last text, name and tag they encoded: a stale one would be a wrong record.
    const execute = (statement: string, text: string): EventPayload => ({
      statement,
      portal: '',
      text,
      params: [],
      decision: { action: 'allow' },
    });
    const result = (tag: string): EventPayload => ({ ref: 1, tag, rowCount: 0, bytes: 0, ms: 0 });
    for (const [kind, payload] of [
      ['execute', execute('a', 'SELECT 1')],
      ['execute', execute('a', 'SELECT 1')],
      ['execute', execute('a', 'SELECT "2"')],
      ['execute', execute('b', 'SELECT "2"')],
      ['result', result('SELECT 1')],
      ['result', result('UPDATE 3')],
    ] as const) {
      expect(encodePayload(kind, payload)).toBe(canonicalJson(payload));
    }
  });
});
