// Helpers shared by this package's tests (not exported from index.ts). The generic ones
// (PRNG, chunking, pg-protocol parsing) come from @warden/pg-wire/testing.
import { ResultMasker } from './result-masker.js';

export { byteChunks, parseWithPgProtocol, randomChunks, rng, type PgMessage } from '@warden/pg-wire/testing';

/** Push `chunks` through `masker` and concatenate the output. */
export function run(masker: ResultMasker, chunks: Buffer[]): Buffer {
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...masker.push(c));
  expect0(masker.bufferedLength);
  return Buffer.concat(out);
}

function expect0(n: number): void {
  if (n !== 0) throw new Error(`${n} bytes left buffered`);
}
