import { createHash, createHmac } from 'node:crypto';

/** `SHA256:<base64 without padding>` of a public key blob, as `ssh-keygen -lf` prints it. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The names a known_hosts line may use for this target: `host`, or `[host]:port` off port 22. */
function hostNames(host: string, port: number): string[] {
  return port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
}

/** Whether one known_hosts host field (comma-separated, possibly hashed `|1|salt|hash`) names the target. */
function hostFieldMatches(field: string, names: string[]): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const key = Buffer.from(salt, 'base64');
    return names.some((name) => createHmac('sha1', key).update(name).digest('base64') === hash);
  }
  const patterns = field.split(',');
  const positive = patterns.filter((p) => !p.startsWith('!'));
  const negated = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const match = (pattern: string) => {
    const re = new RegExp(
      '^' +
        pattern
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
      'i',
    );
    return names.some((name) => re.test(name));
  };
  return !negated.some(match) && positive.some(match);
}

export type HostKeyCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks the key the target presented against what the connection pins: the
 * fingerprint, or the known_hosts entries for this host and port. Fails closed:
 * nothing pinned, no entry for the host, or a revoked key all refuse. Reasons name
 * neither host nor user (they reach the client).
 */
export function checkHostKey(
  keyBlob: Buffer,
  pinned: { hostKeyFingerprint?: string; knownHosts?: string },
  target: { host: string; port: number },
): HostKeyCheck {
  const fingerprint = sha256Fingerprint(keyBlob);
  if (pinned.hostKeyFingerprint) {
    return pinned.hostKeyFingerprint.replace(/=+$/, '') === fingerprint
      ? { ok: true }
      : { ok: false, reason: "the target's host key does not match the connection's pinned fingerprint" };
  }
  if (!pinned.knownHosts) {
    return { ok: false, reason: 'the connection pins no host key (hostKeyFingerprint or knownHosts)' };
  }
  const names = hostNames(target.host, target.port);
  const presented = keyBlob.toString('base64');
  let known = false;
  for (const raw of pinned.knownHosts.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [hosts, , key] = fields;
    if (!hosts || !key || marker === '@cert-authority' || !hostFieldMatches(hosts, names)) continue;
    if (marker === '@revoked') {
      if (key === presented) return { ok: false, reason: "the target's host key is marked revoked in known_hosts" };
      continue;
    }
    known = true;
    if (key === presented) return { ok: true };
  }
  return {
    ok: false,
    reason: known
      ? "the target's host key does not match its known_hosts entry"
      : 'known_hosts has no entry for the target',
  };
}
