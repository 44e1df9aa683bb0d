import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config.js';

const VERSION = 'v1';

/**
 * Seals values the control plane stores (connection passwords, webhook secrets)
 * with AES-256-GCM. The sealed form is `v1.<iv>.<tag>.<ciphertext>` (base64url),
 * so a copied database without the key reveals nothing.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new ConfigError('WARDEN_SECRET_KEY must decode to exactly 32 bytes');
    this.#key = key;
  }

  static fromString(value: string): SecretBox {
    const trimmed = value.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
    return new SecretBox(key);
  }

  seal(plaintext: string, associatedData = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'));
    return [VERSION, ...parts].join('.');
  }

  /** A key for another purpose derived from this one (HMAC-SHA-256 over `label`); the master key never leaves. */
  derive(label: string): Buffer {
    return createHmac('sha256', this.#key).update(label, 'utf8').digest();
  }

  /** Throws when the value was sealed with another key or altered. */
  open(sealed: string, associatedData = ''): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || ciphertext === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/**
 * The key comes from WARDEN_SECRET_KEY. Only the embedded mode may invent one (kept
 * in `<dataDir>/secret.key`, mode 0600): with a shared Postgres, replicas would
 * each invent a different key and could not read each other's secrets.
 */
export function loadSecretBox(options: {
  secretKey: string | undefined;
  databaseUrl: string | undefined;
  dataDir: string;
}): SecretBox {
  if (options.secretKey) return SecretBox.fromString(options.secretKey);
  if (options.databaseUrl) {
    throw new ConfigError(
      'WARDEN_SECRET_KEY is required when DATABASE_URL is set (32 bytes, base64 or hex; e.g. `openssl rand -base64 32`)',
    );
  }
  const file = path.join(options.dataDir, 'secret.key');
  if (!existsSync(file)) {
    mkdirSync(options.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return SecretBox.fromString(readFileSync(file, 'utf8'));
}
