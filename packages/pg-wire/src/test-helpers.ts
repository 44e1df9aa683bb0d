// Helpers for tests of Postgres byte streams, here and in packages that build on this one
// (`@warden/pg-wire/testing`; not part of the main entry point).
import { Readable } from 'node:stream';
import { parse as pgProtocolParse } from 'pg-protocol';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Split `buf` into chunks of random sizes in [1, max]. */
export function randomChunks(buf: Buffer, next: () => number, max = 64): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length;) {
    const n = 1 + Math.floor(next() * max);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Every single byte as its own (copied) chunk. */
export function byteChunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buf) out.push(Buffer.from([b]));
  return out;
}

/** A message as pg-protocol decodes it; tests read its fields loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PgMessage = Record<string, any>;

/** Parse backend bytes with node-postgres' own parser: it rejects wrong message and field lengths. */
export async function parseWithPgProtocol(...chunks: Buffer[]): Promise<PgMessage[]> {
  const out: PgMessage[] = [];
  await pgProtocolParse(Readable.from(chunks), (msg) => {
    out.push(msg as unknown as PgMessage);
  });
  return out;
}
