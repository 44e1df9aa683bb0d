import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { RecordingSeal } from './events.js';

/** PKCS#8 prefix of a raw 32-byte Ed25519 seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The exact bytes a seal signs: bound to the session, its last seq and the chain's final hash. */
export function sealMessage(seal: Pick<RecordingSeal, 'sessionId' | 'lastSeq' | 'finalHash'>): Buffer {
  return Buffer.from(`warden-recording-seal/v1\n${seal.sessionId}\n${seal.lastSeq}\n${seal.finalHash}`, 'utf8');
}

/** A short, stable id for a public key: the first 16 hex digits of SHA-256 over its DER form. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Parses a public key given as PEM, or as base64 of its raw 32 bytes or its SPKI DER. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length === 32) {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' });
  }
  return createPublicKey({ key: bytes, format: 'der', type: 'spki' });
}

/**
 * The gateway's Ed25519 key that seals recordings. Every replica derives the same key
 * from the deployment's secret (so any replica can seal and any reader can verify),
 * and publishes the public half; the private half is never stored.
 */
export class RecordingSigner {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly #privateKey: KeyObject;

  constructor(seed: Buffer) {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    this.#privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    this.publicKey = createPublicKey(this.#privateKey);
    this.keyId = keyIdOf(this.publicKey);
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  seal(sessionId: string, lastSeq: number, finalHash: string): RecordingSeal {
    const signature = sign(null, sealMessage({ sessionId, lastSeq, finalHash }), this.#privateKey).toString('base64');
    return { sessionId, lastSeq, finalHash, signature, signingKeyId: this.keyId };
  }
}

/** True when `seal.signature` is a valid signature by `publicKey` over the seal's content. */
export function verifySealSignature(seal: RecordingSeal, publicKey: KeyObject): boolean {
  try {
    return verify(null, sealMessage(seal), publicKey, Buffer.from(seal.signature, 'base64'));
  } catch {
    return false;
  }
}

/** The label under which every replica derives the signing seed from the deployment's secret. */
export const SIGNING_KEY_LABEL = 'warden/recording-signing-key/v1';

/** The deployment's recording signer, from a key-derivation function such as SecretBox.derive. */
export function recordingSignerFrom(derive: (label: string) => Buffer): RecordingSigner {
  return new RecordingSigner(derive(SIGNING_KEY_LABEL));
}
