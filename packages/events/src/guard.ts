/**
 * The last line against a secret in an event: field names that look like credentials must not
 * carry a string (counts keyed by a column called "password" are fine), and no string anywhere
 * may look like a Warden token, a JWT or a private key. Producers never put such things in; this
 * makes a mistake fail loudly in tests instead of shipping a secret to a SIEM.
 */

const SECRET_FIELD = /pass(word|wd)?$|passphrase|secret|token|credential|authorization|cookie|private|api_?key/i;
const SECRET_VALUE = [
  /\bwd[na]_[A-Za-z0-9_-]{20,}/, // Warden API and agent keys (packages/access TOKEN_PREFIX)
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./, // a JWT
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];
/** What the audit log writes in place of a secret: allowed, it says there was one. */
const REDACTED = '[redacted]';

export class SecretInEventError extends Error {
  override name = 'SecretInEventError';
}

/** Throws SecretInEventError naming the path of the first secret-looking field or value. */
export function assertNoSecrets(value: unknown, path = 'data'): void {
  if (typeof value === 'string') {
    if (SECRET_VALUE.some((pattern) => pattern.test(value)))
      throw new SecretInEventError(`${path} looks like a credential`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertNoSecrets(item, `${path}[${i}]`));
    return;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_FIELD.test(key) && typeof item === 'string' && item !== REDACTED && item !== '')
        throw new SecretInEventError(`${path}.${key} is a secret-looking field`);
      assertNoSecrets(item, `${path}.${key}`);
    }
  }
}
