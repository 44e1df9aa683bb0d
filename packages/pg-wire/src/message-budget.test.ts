import { describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import { FrontendParser } from './frontend-parser.js';
import { BUDGETED_MESSAGE_FROM, MessageBudget } from './message-budget.js';
import { ProtocolViolation } from './protocol-violation.js';
import { randomChunks, rng } from './test-helpers.js';

function violation(fn: () => unknown): ProtocolViolation {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolViolation) return e;
    throw e;
  }
  throw new Error('expected a ProtocolViolation');
}

/** A Query message whose whole frame (type byte included) is `frameBytes` long. */
function queryOfFrame(frameBytes: number, fill = 'x'): Buffer {
  // type (1) + length (4) + text + NUL (1)
  return serialize.query(fill.repeat(frameBytes - 6));
}

const MiB = 1024 * 1024;

describe('FrontendParser with a MessageBudget', () => {
  it('reserves a large message at its header and keeps it until the reader releases it', () => {
    const budget = new MessageBudget(10 * MiB);
    const p = new FrontendParser({ phase: 'normal', budget });
    const q = queryOfFrame(MiB);
    p.push(q.subarray(0, 5));
    expect(p.read()).toBeNull();
    // The whole claimed size (the frame), before any body byte arrived.
    expect(budget.used).toBe(MiB);
    p.push(q.subarray(5));
    const m = p.read();
    expect(m).toMatchObject({ kind: 'query' });
    expect((m as { text: string }).text.length).toBe(MiB - 6);
    // Read, but not released: it may still sit in the gateway (held, in the tunnel's buffer).
    expect(budget.used).toBe(MiB);
    const release = p.handOff();
    expect(release).toBeTypeOf('function');
    expect(p.handOff()).toBeUndefined();
    release!();
    release!();
    expect(budget.used).toBe(0);
  });

  it('leaves messages of 64 KiB and less out of it', () => {
    const budget = new MessageBudget(0);
    const p = new FrontendParser({ phase: 'normal', budget });
    // The largest unbudgeted frame: type byte + length field value BUDGETED_MESSAGE_FROM.
    p.push(queryOfFrame(BUDGETED_MESSAGE_FROM + 1));
    p.push(serialize.sync());
    expect(p.read()).toMatchObject({ kind: 'query' });
    expect(p.read()).toMatchObject({ kind: 'sync' });
    expect(budget.used).toBe(0);
    expect(p.handOff()).toBeUndefined();
    // One byte more and a budget of 0 refuses it.
    p.push(queryOfFrame(BUDGETED_MESSAGE_FROM + 2).subarray(0, 5));
    expect(violation(() => p.read())).toMatchObject({ code: '54000', fatal: true });
  });

  it('refuses a message that would take the total past the limit with a fatal 54000, others untouched', () => {
    const budget = new MessageBudget(3 * MiB);
    const first = new FrontendParser({ phase: 'normal', budget });
    const second = new FrontendParser({ phase: 'normal', budget });
    const third = new FrontendParser({ phase: 'normal', budget });
    const big = queryOfFrame(1.5 * MiB);
    first.push(big.subarray(0, 100_000));
    second.push(big.subarray(0, 5));
    expect(first.read()).toBeNull();
    expect(second.read()).toBeNull();
    expect(budget.used).toBe(3 * MiB);
    third.push(queryOfFrame(MiB).subarray(0, 5));
    const v = violation(() => third.read());
    expect(v).toMatchObject({ code: '54000', fatal: true });
    expect(v.message).toBe(
      `message of ${MiB - 1} bytes does not fit in the buffer for large client messages now ` +
        `(${3 * MiB} of ${3 * MiB} bytes in use); try again later or send less at once`,
    );
    expect(budget.refused).toBe(1);
    expect(budget.used).toBe(3 * MiB);
    // Sticky, as any fatal violation; nothing of it stays reserved.
    expect(() => third.read()).toThrow(v);
    expect(third.budgetHeld).toBe(0);
    // The others go on and complete.
    first.push(big.subarray(100_000));
    second.push(big.subarray(5));
    expect(first.read()).toMatchObject({ kind: 'query' });
    expect(second.read()).toMatchObject({ kind: 'query' });
    first.handOff()!();
    // Room again: the same message now fits.
    const fourth = new FrontendParser({ phase: 'normal', budget });
    fourth.push(queryOfFrame(MiB));
    expect(fourth.read()).toMatchObject({ kind: 'query' });
    expect(budget.used).toBe(1.5 * MiB + MiB);
  });

  it('says so when a message is larger than the whole budget', () => {
    const budget = new MessageBudget(MiB);
    const p = new FrontendParser({ phase: 'normal', budget });
    p.push(queryOfFrame(2 * MiB).subarray(0, 5));
    expect(violation(() => p.read()).message).toBe(
      `message of ${2 * MiB - 1} bytes exceeds the limit of ${MiB} bytes for buffered client messages`,
    );
  });

  it('assembles a large message as it arrives, in any chunking, and goes on with what follows it', () => {
    const budget = new MessageBudget(10 * MiB);
    const next = rng(7);
    const big = queryOfFrame(300_000, 'é'); // multi-byte UTF-8 text, cut anywhere
    const stream = Buffer.concat([serialize.query('select 1'), big, serialize.sync(), big, serialize.sync()]);
    const p = new FrontendParser({ phase: 'normal', budget });
    const kinds: string[] = [];
    const texts: string[] = [];
    for (const chunk of randomChunks(stream, next, 70_000)) {
      p.push(chunk);
      for (let m = p.read(); m; m = p.read()) {
        kinds.push(m.kind);
        if (m.kind === 'query') texts.push(m.text);
        if (m.kind === 'query' && m.frame.length > 1000) expect(m.frame.equals(big)).toBe(true);
      }
    }
    expect(kinds).toEqual(['query', 'query', 'sync', 'query', 'sync']);
    expect(texts.slice(1)).toEqual([big.subarray(5, -1).toString(), big.subarray(5, -1).toString()]);
    expect(p.bufferedLength).toBe(0);
    expect(p.budgetHeld).toBe(2 * big.length);
    p.handOff()!();
    expect(budget.used).toBe(0);
  });

  it('copies a large message out of the pushed chunks as they arrive: their owner may reuse them at once', () => {
    const budget = new MessageBudget(10 * MiB);
    const p = new FrontendParser({ phase: 'normal', budget });
    const big = queryOfFrame(200_000);
    const chunk = Buffer.alloc(50_000);
    let sent = 0;
    while (sent < big.length) {
      const n = Math.min(chunk.length, big.length - sent);
      big.copy(chunk, 0, sent, sent + n);
      p.push(chunk.subarray(0, n));
      sent += n;
      if (sent < big.length) {
        expect(p.read()).toBeNull();
        expect(p.bufferedLength).toBe(sent);
      }
      chunk.fill(0x21); // reused by its owner
    }
    const m = p.read();
    expect(m?.frame.equals(big)).toBe(true);
  });

  it('releases what a parser holds when its connection is disposed of', () => {
    const budget = new MessageBudget(10 * MiB);
    const p = new FrontendParser({ phase: 'normal', budget });
    p.push(queryOfFrame(MiB));
    expect(p.read()).toMatchObject({ kind: 'query' });
    const release = p.handOff()!;
    p.push(queryOfFrame(2 * MiB));
    expect(p.read()).toMatchObject({ kind: 'query' });
    p.push(queryOfFrame(3 * MiB).subarray(0, 1000));
    expect(p.read()).toBeNull();
    expect(budget.used).toBe(6 * MiB);
    p.dispose();
    // The handed-off message is still the reader's to release.
    expect(budget.used).toBe(MiB);
    expect(p.bufferedLength).toBe(0);
    release();
    expect(budget.used).toBe(0);
    p.dispose();
    expect(budget.used).toBe(0);
  });

  it('keeps the reservation of a large message whose body is malformed until it is handed off', () => {
    const budget = new MessageBudget(10 * MiB);
    const p = new FrontendParser({ phase: 'normal', budget });
    const bad = queryOfFrame(MiB);
    bad[bad.length - 1] = 0x78; // no terminating NUL
    p.push(bad);
    p.push(serialize.sync());
    expect(violation(() => p.read())).toMatchObject({ fatal: false });
    expect(p.read()).toMatchObject({ kind: 'sync' });
    expect(budget.used).toBe(MiB);
    p.handOff()!();
    expect(budget.used).toBe(0);
  });

  it('keeps the high-water mark of the bytes reserved at once', () => {
    const budget = new MessageBudget(10 * MiB);
    expect(budget.tryReserve(4 * MiB)).toBe(true);
    expect(budget.tryReserve(7 * MiB)).toBe(false);
    budget.release(4 * MiB);
    expect(budget.used).toBe(0);
    expect(budget.highWater).toBe(4 * MiB);
    expect(budget.refused).toBe(1);
  });
});
