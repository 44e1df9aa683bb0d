import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, run, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { sshClient } from '../ssh/ssh-client.js';
import {
  cancelRequest,
  eventually,
  loginRaw,
  metric,
  openDescriptors,
  RawClient,
  scrape,
  settledDescriptors,
  startup,
} from './limits-sockets.js';

// Connection caps of one gateway (a real gateway process, real sockets, psql and OpenSSH): past
// WARDEN_MAX_CLIENT_CONNECTIONS (Postgres and SSH together) or WARDEN_MAX_CLIENT_CONNECTIONS_PER_ADDRESS,
// a Postgres client gets FATAL 53300 and an SSH client a disconnect message saying why, and the
// refused socket is closed by the gateway, its descriptor with it. Clients come from several
// loopback addresses (127.0.0.1, .2, .3) to tell the two caps apart.

const MAX = 6;
const PER_ADDRESS = 4;
let dp: DataPath;
let metricsPort: number;
const held: RawClient[] = [];

beforeAll(async () => {
  metricsPort = await freePort();
  dp = await startDataPath({
    gatewayEnv: {
      WARDEN_MAX_CLIENT_CONNECTIONS: String(MAX),
      WARDEN_MAX_CLIENT_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS),
      WARDEN_GATEWAY_METRICS_PORT: `127.0.0.1:${metricsPort}`,
      LOG_LEVEL: 'info',
    },
  });
});

afterEach(async () => {
  for (const client of held.splice(0)) client.destroy();
  // Every slot back before the next test.
  await eventually(
    async () => metric(await scrape(metricsPort), 'warden_client_connections', 'protocol="postgres"'),
    (n) => n === 0,
    'the gateway still counts client connections',
  );
});

afterAll(async () => {
  await dp?.close();
});

/** Opens `n` client sockets from `address` that send nothing: they hold a slot (in their startup). */
async function hold(n: number, address: string): Promise<void> {
  for (let i = 0; i < n; i++) held.push(await RawClient.connect(dp.pgPort, address));
  // Admitted (counted) once the gateway accepted them.
  await eventually(
    async () => metric(await scrape(metricsPort), 'warden_client_connections', 'protocol="postgres"'),
    (count) => count >= held.length,
    'the gateway did not count the held connections',
  );
}

/** A client past a cap: sends its startup packet, and is answered and closed by the gateway. */
async function refused(address: string): Promise<RawClient> {
  const client = await RawClient.connect(dp.pgPort, address);
  client.write(startup());
  await client.message('E');
  // The gateway ends the connection; the client never closes its side.
  await client.waitEnded();
  return client;
}

describe('connection caps', () => {
  it('refuses a client past the per-address cap with 53300 and closes its socket; other addresses get in', async () => {
    await hold(PER_ADDRESS, '127.0.0.1');
    const over = await refused('127.0.0.1');
    expect(over.errorResponse()).toMatchObject({
      severity: 'FATAL',
      code: '53300',
      message: `too many connections from this address: the limit is ${PER_ADDRESS} per address; close some or try again later`,
    });
    // Closed on the gateway's side, not only ended: a byte sent now is answered with a reset.
    await eventually(
      () => over.resetOnWrite(),
      (reset) => reset,
      'the refused socket is still open on the gateway',
    );

    // Another address is under its own cap (and the gateway's): the gateway asks for its token.
    const other = await RawClient.connect(dp.pgPort, '127.0.0.2');
    held.push(other);
    other.write(startup());
    const auth = await other.message('R');
    expect(auth.readInt32BE(0)).toBe(3); // AuthenticationCleartextPassword
    expect(other.errorResponse()).toBeNull();

    const text = await scrape(metricsPort);
    expect(metric(text, 'warden_client_connections_refused_total', 'protocol="postgres",limit="address"')).toBe(1);
    over.destroy();
  });

  it('refuses psql (with and without TLS) and ssh past the gateway cap, with the reason; closing frees the slots', async () => {
    await hold(PER_ADDRESS, '127.0.0.1');
    await hold(MAX - PER_ADDRESS, '127.0.0.2');
    const reason = `sorry, too many clients already: this gateway holds its limit of ${MAX} client connections; try again later`;

    for (const sslmode of ['disable', 'require']) {
      const url = dp.url(undefined, undefined, `sslmode=${sslmode}`);
      const psql = await run('psql', ['-X', '--no-psqlrc', '-d', url, '-c', 'select 1'], { timeoutMs: 30_000 });
      expect(psql.code, sslmode).toBe(2);
      expect(psql.stderr, sslmode).toContain(`FATAL:  ${reason}`);
    }

    // SSH shares the count: the client is disconnected with the same reason (SSH reason 12,
    // too many connections), before any key exchange.
    const ssh = await sshClient(dp.sshPort);
    const refusedSsh = await ssh.run('pg-test', ['true'], { token: dp.adminKey, timeoutMs: 30_000 });
    expect(refusedSsh.code).toBe(255);
    expect(refusedSsh.stderr).toMatch(
      new RegExp(`Received disconnect from 127\\.0\\.0\\.1 port \\d+:12: Warden: ${reason}`),
    );

    const text = await scrape(metricsPort);
    expect(metric(text, 'warden_client_connections', 'protocol="postgres"')).toBe(MAX);
    expect(metric(text, 'warden_client_connections_refused_total', 'protocol="postgres",limit="gateway"')).toBe(2);
    expect(metric(text, 'warden_client_connections_refused_total', 'protocol="ssh",limit="gateway"')).toBe(1);

    // The slots come back as the held connections close: psql gets in again.
    for (const client of held.splice(0)) client.destroy();
    await eventually(
      async () => (await dp.psql(['-A', '-t', '-c', 'select 40 + 2'])).stdout.trim(),
      (out) => out === '42',
      'psql did not get in once the slots were free',
    );
  });

  it('lets a cancel request through a full gateway', async () => {
    const session = await loginRaw(dp.pgPort, dp.adminKey);
    held.push(session.client);
    session.client.write(
      Buffer.concat([Buffer.from('Q'), lengthOf('select pg_sleep(60)'), Buffer.from('select pg_sleep(60)\0')]),
    );
    // The session takes one slot (from 127.0.0.1); the rest are held from two other addresses.
    await hold(PER_ADDRESS, '127.0.0.3');
    await hold(MAX - 1 - PER_ADDRESS, '127.0.0.2');
    expect(metric(await scrape(metricsPort), 'warden_client_connections', 'protocol="postgres"')).toBe(MAX);
    const cancel = await RawClient.connect(dp.pgPort, '127.0.0.2');
    cancel.write(cancelRequest(session.processId, session.secretKey));
    const error = await session.client.message('E', 30_000);
    expect(error.toString()).toContain('57014'); // query_canceled
    cancel.destroy();
  });

  it('keeps no descriptor for refused sockets, answered or silent', async () => {
    await hold(PER_ADDRESS, '127.0.0.1');
    await hold(MAX - PER_ADDRESS, '127.0.0.2');
    const pid = dp.gateway.child.pid!;
    const before = await settledDescriptors(pid);

    // Clients that send their startup packet: each gets 53300 and its socket is closed.
    const answered = await Promise.all(Array.from({ length: 30 }, () => refused('127.0.0.3')));
    for (const client of answered) expect(client.errorResponse()?.code).toBe('53300');
    // Clients that send nothing: closed without a word (after a short wait for their startup).
    const silent = await Promise.all(Array.from({ length: 10 }, () => RawClient.connect(dp.pgPort, '127.0.0.3')));
    for (const client of silent) await client.waitEnded(30_000);
    expect(silent.every((client) => client.received.length === 0)).toBe(true);

    // The clients never closed their side; the gateway holds none of them.
    await eventually(
      () => openDescriptors(pid),
      (n) => n <= before + 3,
      `the gateway kept descriptors of refused sockets (before: ${before})`,
    );
    for (const client of [...answered, ...silent]) client.destroy();
  });
});

function lengthOf(sql: string): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(4 + Buffer.byteLength(sql) + 1);
  return length;
}
