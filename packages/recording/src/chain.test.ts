import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash, GENESIS_HASH, HashChain } from './chain.js';
import type { RecordedEvent } from './events.js';

describe('canonicalJson', () => {
  it('sorts keys at every level and matches JSON.stringify otherwise', () => {
    const value = { b: [1, 'x', null, { z: true, a: 0.5 }], a: { d: 'é"\n', c: -3 }, u: undefined };
    expect(canonicalJson(value)).toBe('{"a":{"c":-3,"d":"é\\"\\n"},"b":[1,"x",null,{"a":0.5,"z":true}]}');
    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('gives the same text for the same content in any key order (as after a JSONB round trip)', () => {
    const written = { text: 'SELECT 1', params: ['1', null, { b64: 'AA==' }], decision: { action: 'allow' } };
    const readBack = { decision: { action: 'allow' }, params: ['1', null, { b64: 'AA==' }], text: 'SELECT 1' };
    expect(canonicalJson(readBack)).toBe(canonicalJson(written));
  });
});

describe('HashChain', () => {
  it('links events so that eventHash() recomputes every hash from the previous one', () => {
    const chain = new HashChain('00000000-0000-4000-8000-000000000001');
    const a = chain.append({
      t: '2026-11-22T08:00:00.000Z',
      direction: 'client',
      kind: 'query',
      payload: { text: 'SELECT 1' },
    });
    const payload = { tag: 'SELECT 1', ref: 1, rows: [['1']] };
    const encoded = chain.appendEncoded('2026-11-22T08:00:00.001Z', 'server', 'result', canonicalJson(payload));
    const b = { ...(JSON.parse(encoded.json) as RecordedEvent), prevHash: a.hash };
    expect(a.prevHash).toBe(GENESIS_HASH);
    expect(b.prevHash).toBe(a.hash);
    expect(eventHash(GENESIS_HASH, a)).toBe(a.hash);
    expect(eventHash(a.hash, b)).toBe(b.hash);
    expect(b).toMatchObject({ seq: 2, sessionId: a.sessionId, kind: 'result', payload });
    expect(encoded).toMatchObject({ seq: 2, kind: 'result', t: '2026-11-22T08:00:00.001Z' });
    expect(eventHash(a.hash, { ...b, payload: { tag: 'SELECT 2', ref: 1, rows: [['1']] } })).not.toBe(b.hash);
    expect([chain.lastSeq, chain.lastHash]).toEqual([2, b.hash]);
  });
});
