import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import {
  eventually,
  metric,
  openDescriptors,
  RawClient,
  scrape,
  settledDescriptors,
  startup,
} from './limits-sockets.js';

// Clients that connect and never finish their startup (a real gateway process, real sockets that
// never close their side): past WARDEN_CLIENT_STARTUP_TIMEOUT_MS the gateway closes them fully, so
// their descriptors are released, instead of ending its side and waiting for the client to close.

const TIMEOUT_MS = 2000;
let dp: DataPath;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  dp = await startDataPath({
    gatewayEnv: {
      WARDEN_CLIENT_STARTUP_TIMEOUT_MS: String(TIMEOUT_MS),
      WARDEN_GATEWAY_METRICS_PORT: `127.0.0.1:${metricsPort}`,
      LOG_LEVEL: 'info',
    },
  });
});

afterAll(async () => {
  await dp?.close();
});

/**
 * Opens `n` clients with `open`, checks the gateway holds them, then that it lets go of all.
 * `probe`: also check with a byte that the first one is closed rather than half-open (not over
 * TLS, where a stray byte would break the TLS layer and close it anyway).
 */
async function releasedAfterTimeout(n: number, open: () => Promise<RawClient>, probe = true): Promise<RawClient[]> {
  const pid = dp.gateway.child.pid!;
  const before = await settledDescriptors(pid);
  const clients = await Promise.all(Array.from({ length: n }, open));
  await eventually(
    () => openDescriptors(pid),
    (count) => count >= before + n,
    `the gateway did not accept the clients (before: ${before})`,
  );
  for (const client of clients) await client.waitEnded(30_000);
  await eventually(
    () => openDescriptors(pid),
    (count) => count <= before + 3,
    `the gateway kept the descriptors of timed-out clients (before: ${before})`,
  );
  // Closed, not half-open: a byte sent now is answered with a reset.
  if (probe) expect(await clients[0]!.resetOnWrite()).toBe(true);
  return clients;
}

describe('startup timeout', () => {
  it('closes Postgres clients that send nothing', async () => {
    const clients = await releasedAfterTimeout(20, () => RawClient.connect(dp.pgPort));
    for (const client of clients) {
      expect(client.errorResponse()).toMatchObject({
        severity: 'FATAL',
        code: '08006',
        message: 'timed out waiting for the client',
      });
    }
    for (const client of clients) client.destroy();
  });

  it('closes Postgres clients that never answer the password request', async () => {
    const clients = await releasedAfterTimeout(10, async () => {
      const client = await RawClient.connect(dp.pgPort);
      client.write(startup());
      return client;
    });
    for (const client of clients) expect(client.errorResponse()?.code).toBe('08006');
    for (const client of clients) client.destroy();
  });

  it('closes Postgres clients that go quiet after their TLS handshake', async () => {
    const clients = await releasedAfterTimeout(5, () => RawClient.connectTls(dp.pgPort), false);
    // The refusal came over TLS: the client could read it.
    for (const client of clients) expect(client.errorResponse()?.code).toBe('08006');
    for (const client of clients) client.destroy();
  });

  it('closes SSH clients that never send their version, or never authenticate', async () => {
    const silent = await releasedAfterTimeout(10, () => RawClient.connect(dp.sshPort));
    const versionOnly = await releasedAfterTimeout(5, async () => {
      const client = await RawClient.connect(dp.sshPort);
      client.write(Buffer.from('SSH-2.0-OpenSSH_9.2p1 test\r\n'));
      return client;
    });
    // The gateway's version line came first; the connection ended without authentication.
    for (const client of [...silent, ...versionOnly])
      expect(client.received.toString('latin1')).toMatch(/^SSH-2\.0-Warden\r\n/);
    for (const client of [...silent, ...versionOnly]) client.destroy();

    const text = await scrape(metricsPort);
    expect(metric(text, 'warden_client_startup_timeouts_total', 'protocol="ssh"')).toBe(15);
    expect(metric(text, 'warden_client_startup_timeouts_total', 'protocol="postgres"')).toBe(35);
  });
});
