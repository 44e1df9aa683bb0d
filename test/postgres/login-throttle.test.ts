import { randomBytes } from 'node:crypto';
import pg from 'pg';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// Failed logins per client address at the real gateway: after WARDEN_LOGIN_MAX_FAILURES wrong
// tokens the address is refused, on the Postgres and the SSH port alike, even with a valid token,
// until WARDEN_LOGIN_LOCKOUT_MS passed. (All of this test's clients come from 127.0.0.1.)
let dp: DataPath;
const LOCKOUT_MS = 2_500;

beforeAll(async () => {
  dp = await startDataPath({
    gatewayEnv: { WARDEN_LOGIN_MAX_FAILURES: '3', WARDEN_LOGIN_LOCKOUT_MS: String(LOCKOUT_MS) },
  });
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

/** Connects with node-postgres: the error it got, or null once it ran a query. */
async function pgAttempt(token: string): Promise<(Error & { code?: string }) | null> {
  const client = new pg.Client({ connectionString: dp.url(token) });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error as Error & { code?: string };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Logs in over SSH with the token as the password: whether the gateway accepted it. */
function sshAccepts(token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    client.once('ready', () => {
      client.end();
      resolve(true);
    });
    client.once('error', () => resolve(false));
    client.connect({ host: '127.0.0.1', port: dp.sshPort, username: 'pg-test', password: token, tryKeyboard: false });
  });
}

describe('failed logins per client address', () => {
  it('locks the address out after three wrong tokens, on both ports, then lets it in again', async () => {
    expect(await pgAttempt(dp.adminKey)).toBeNull();
    expect(await sshAccepts(dp.adminKey)).toBe(true);

    const wrong = () => 'wdn_wrong_' + randomBytes(16).toString('hex');
    // Two on the Postgres port and one on the SSH port: one count for both.
    for (let i = 0; i < 2; i++) expect(await pgAttempt(wrong())).toMatchObject({ code: '28P01' });
    expect(await sshAccepts(wrong())).toBe(false);
    const lockedAt = Date.now();

    // Now even the admin's valid token is refused, with a message that says why and for how long.
    const refused = await pgAttempt(dp.adminKey);
    expect(refused).toMatchObject({ code: '28000' });
    expect(refused!.message).toMatch(/too many failed logins from this address; try again in [1-3] s/);
    expect(await sshAccepts(dp.adminKey)).toBe(false);
    expect(dp.gateway.output()).toMatch(/too many failed logins/);

    // The lockout ends on its own.
    await new Promise((r) => setTimeout(r, Math.max(0, lockedAt + LOCKOUT_MS + 200 - Date.now())));
    expect(await pgAttempt(dp.adminKey)).toBeNull();
    expect(await sshAccepts(dp.adminKey)).toBe(true);
  });
});
