import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkHostKey, sha256Fingerprint } from './host-key.js';

// A key blob is opaque here: only its bytes (fingerprint, base64) are compared.
const key = Buffer.concat([Buffer.from('\0\0\0\x0bssh-ed25519\0\0\0\x20'), randomBytes(32)]);
const other = Buffer.concat([Buffer.from('\0\0\0\x0bssh-ed25519\0\0\0\x20'), randomBytes(32)]);
const b64 = key.toString('base64');
const target = { host: 'db.internal', port: 2222 };

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('checkHostKey', () => {
  it('matches a pinned fingerprint as ssh-keygen prints it', () => {
    const fingerprint = 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
    expect(sha256Fingerprint(key)).toBe(fingerprint);
    expect(checkHostKey(key, { hostKeyFingerprint: fingerprint }, target)).toEqual({ ok: true });
    expect(checkHostKey(other, { hostKeyFingerprint: fingerprint }, target).ok).toBe(false);
  });

  it('matches known_hosts entries for the host and port, plain, wildcard or hashed', () => {
    expect(checkHostKey(key, { knownHosts: `[db.internal]:2222 ssh-ed25519 ${b64}` }, target).ok).toBe(true);
    expect(checkHostKey(key, { knownHosts: `[*.internal]:2222,other ssh-ed25519 ${b64}` }, target).ok).toBe(true);
    expect(checkHostKey(key, { knownHosts: `${hashed('[db.internal]:2222')} ssh-ed25519 ${b64}` }, target).ok).toBe(
      true,
    );
    expect(
      checkHostKey(key, { knownHosts: `db.internal ssh-ed25519 ${b64}` }, { host: 'db.internal', port: 22 }).ok,
    ).toBe(true);
  });

  it('fails closed: wrong key, no entry, negated or revoked, nothing pinned', () => {
    const wrong = checkHostKey(other, { knownHosts: `[db.internal]:2222 ssh-ed25519 ${b64}` }, target);
    expect(wrong).toEqual({ ok: false, reason: "the target's host key does not match its known_hosts entry" });
    // Port 22 entries do not vouch for another port.
    expect(checkHostKey(key, { knownHosts: `db.internal ssh-ed25519 ${b64}` }, target)).toEqual({
      ok: false,
      reason: 'known_hosts has no entry for the target',
    });
    expect(checkHostKey(key, { knownHosts: `[*]:2222,![db.internal]:2222 ssh-ed25519 ${b64}` }, target).ok).toBe(false);
    const revoked = `@revoked [db.internal]:2222 ssh-ed25519 ${b64}\n[db.internal]:2222 ssh-ed25519 ${b64}`;
    expect(checkHostKey(key, { knownHosts: revoked }, target).ok).toBe(false);
    expect(checkHostKey(key, {}, target)).toEqual({
      ok: false,
      reason: 'the connection pins no host key (hostKeyFingerprint or knownHosts)',
    });
    // No reason names the host.
    for (const r of [wrong]) if (!r.ok) expect(r.reason).not.toContain('db.internal');
  });
});
