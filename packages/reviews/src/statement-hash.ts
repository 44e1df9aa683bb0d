import { createHash } from 'node:crypto';

/**
 * A bound parameter as the gateway received it: text-format values as strings, binary-format
 * values as bytes, SQL NULL as null. Text and binary are told apart on purpose: the same bytes
 * mean different values in the two formats.
 */
export type StatementParam = string | Uint8Array | null;

/** How parameters are kept in Review.parameters (JSON) and shown to approvers. */
export type StoredParam = string | null | { binary: string };

/**
 * SHA-256 over a canonical encoding of the statement text and its parameters: every part is
 * tagged and length-prefixed, so no two different (text, params) pairs encode alike (`'a', 'bc'`
 * vs `'ab', 'c'`, NULL vs the string "null", text vs binary). An approval is bound to this hash:
 * a statement differing in one character or one parameter needs its own review.
 */
export function statementHash(text: string, params: readonly StatementParam[] = []): string {
  const hash = createHash('sha256');
  const part = (tag: string, bytes: Uint8Array) => {
    const header = Buffer.alloc(5);
    header.write(tag, 0, 'latin1');
    header.writeUInt32BE(bytes.length, 1);
    hash.update(header).update(bytes);
  };
  hash.update('warden.statement.v1\n');
  part('q', Buffer.from(text, 'utf8'));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(params.length);
  hash.update(count);
  for (const p of params) {
    if (p === null) part('n', new Uint8Array(0));
    else if (typeof p === 'string') part('t', Buffer.from(p, 'utf8'));
    else part('b', p);
  }
  return hash.digest('hex');
}

export function storeParams(params: readonly StatementParam[]): StoredParam[] {
  return params.map((p) =>
    p === null || typeof p === 'string'
      ? p
      : { binary: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64') },
  );
}

/** Back from the stored form, e.g. to check a statement against a review's hash. */
export function loadParams(stored: unknown): StatementParam[] {
  if (!Array.isArray(stored)) return [];
  return stored.map((p: unknown) => {
    if (p === null || typeof p === 'string') return p;
    if (typeof p === 'object' && typeof (p as { binary?: unknown }).binary === 'string') {
      return Buffer.from((p as { binary: string }).binary, 'base64');
    }
    throw new Error('malformed stored statement parameter');
  });
}
