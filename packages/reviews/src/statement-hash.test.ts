import { describe, expect, it } from 'vitest';
import { loadParams, statementHash, storeParams } from './statement-hash.js';

describe('statementHash', () => {
  it('is a stable SHA-256 hex of the text and parameters', () => {
    const h = statementHash('DELETE FROM t WHERE id = $1', ['42']);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(statementHash('DELETE FROM t WHERE id = $1', ['42'])).toBe(h);
  });

  it('any difference in text or parameters gives another hash', () => {
    const hashes = [
      statementHash('DELETE FROM t WHERE id = 1'),
      statementHash('DELETE FROM t WHERE id = 2'),
      statementHash('DELETE FROM t WHERE id = 1 '),
      statementHash('DELETE FROM t WHERE id = 1', []),
      statementHash('SELECT $1, $2', ['a', 'bc']),
      statementHash('SELECT $1, $2', ['ab', 'c']),
      statementHash('SELECT $1', [null]),
      statementHash('SELECT $1', ['null']),
      statementHash('SELECT $1', ['']),
      statementHash('SELECT $1', [Buffer.from('1')]),
      statementHash('SELECT $1', ['1']),
      statementHash('SELECT $1', [Buffer.from([0, 0, 0, 1])]),
      statementHash('SELECT $1, $2', ['1', null]),
      statementHash('SELECT $1, $2', [null, '1']),
    ];
    // Absent parameters and an empty list are the same statement; everything else differs.
    expect(hashes[3]).toBe(hashes[0]);
    hashes.splice(3, 1);
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it('parameters round-trip through their stored (JSON) form with the same hash', () => {
    const params = ['text', null, Buffer.from([0, 255, 7])];
    const stored = storeParams(params);
    expect(stored).toEqual(['text', null, { binary: 'AP8H' }]);
    const loaded = loadParams(JSON.parse(JSON.stringify(stored)));
    expect(statementHash('SELECT $1, $2, $3', loaded)).toBe(statementHash('SELECT $1, $2, $3', params));
    expect(loadParams(null)).toEqual([]);
    expect(() => loadParams([{ nope: 1 }])).toThrow(/malformed/);
  });
});
