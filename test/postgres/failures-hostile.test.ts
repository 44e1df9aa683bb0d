import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import {
  WireClient,
  decodeError,
  login,
  password,
  query,
  simpleQuery,
  startupPacket,
  typed,
  type ErrorFields,
} from '../support/wire.js';

// Hostile and broken frontend input on the gateway's Postgres port, from raw sockets:
// every case gets a FATAL ErrorResponse or a closed socket, never a hang; the gateway
// stays up; and a session opened before all this keeps working throughout.
let dp: DataPath;
let bystander: pg.Client;
let silent: { plain: WireClient; afterSsl: WireClient; openedAt: number };

beforeAll(async () => {
  dp = await startDataPath();
  bystander = new pg.Client({ connectionString: dp.url() });
  await bystander.connect();
  await bystander.query('CREATE TABLE marks (n int)');
  // Two clients that go quiet mid-handshake, checked at the end: the gateway must drop them.
  const plain = await WireClient.connect(dp.pgPort);
  plain.write(startupPacket({ user: 'tester', database: 'pg-test' }).subarray(0, 12));
  const afterSsl = await WireClient.connect(dp.pgPort);
  afterSsl.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])); // SSLRequest, then no TLS ClientHello
  silent = { plain, afterSsl, openedAt: Date.now() };
});

afterAll(async () => {
  await bystander?.end().catch(() => {});
  await dp?.close();
});

let mark = 0;
/** Sessions whose clients are gone must not stay `active`: only the bystander's may. */
async function onlyBystanderActive(): Promise<void> {
  const deadline = Date.now() + 5000;
  let active = Infinity;
  while (active !== 1 && Date.now() < deadline) {
    active = await dp.api.db.prisma.session.count({ where: { status: 'active' } });
    if (active !== 1) await new Promise((r) => setTimeout(r, 100));
  }
  expect(active).toBe(1);
}

/** The bystander session still answers, and the gateway still takes new clients. */
async function stillServing(): Promise<void> {
  mark += 1;
  await bystander.query('INSERT INTO marks VALUES ($1)', [mark]);
  expect((await bystander.query('SELECT max(n) AS n FROM marks')).rows[0].n).toBe(mark);
  expect(dp.gateway.child.exitCode).toBeNull();
}

async function loggedIn(): Promise<WireClient> {
  const { client } = await login(dp.pgPort, dp.adminKey, 'pg-test');
  return client;
}

function expectFatal(error: ErrorFields | null, codes: string[]): void {
  expect(error).not.toBeNull();
  expect(error!.severity).toBe('FATAL');
  expect(codes).toContain(error!.code);
}

describe('malformed frontend input before authentication', () => {
  it('garbage bytes (an HTTP request) get a FATAL error and a close', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'));
    const { error } = await c.outcome();
    expectFatal(error, ['08P01', '54000']);
    await stillServing();
  });

  it('a startup packet claiming 0x7fffffff bytes is refused at once with 54000', async () => {
    const c = await WireClient.connect(dp.pgPort);
    const packet = startupPacket({ user: 'tester', database: 'pg-test' });
    packet.writeInt32BE(0x7fffffff, 0);
    c.write(packet);
    const { error } = await c.outcome();
    expectFatal(error, ['54000']);
    await stillServing();
  });

  it('a startup packet shorter than its header is 08P01', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(Buffer.from([0, 0, 0, 4, 0, 3, 0, 0]));
    expectFatal((await c.outcome()).error, ['08P01']);
  });

  it('an unsupported protocol version is 08P01', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(startupPacket({ user: 'tester', database: 'pg-test' }, 2 << 16));
    expectFatal((await c.outcome()).error, ['08P01']);
  });

  it('a truncated startup packet followed by a close ends the connection', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.socket.end(startupPacket({ user: 'tester', database: 'pg-test' }).subarray(0, 15));
    await c.waitClosed();
    await stillServing();
  });

  it('a query instead of the password is 08P01', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(startupPacket({ user: 'tester', database: 'pg-test' }));
    expect((await c.next())?.type).toBe('R');
    c.write(query('SELECT 1'));
    expectFatal((await c.outcome()).error, ['08P01']);
  });

  it('a password message claiming 1 MiB is refused before it arrives', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(startupPacket({ user: 'tester', database: 'pg-test' }));
    expect((await c.next())?.type).toBe('R');
    c.write(typed('p', Buffer.from('abc'), 1024 * 1024));
    expectFatal((await c.outcome()).error, ['08P01', '54000']);
  });

  it('bytes sent after SSLRequest ahead of the TLS handshake are refused', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(Buffer.concat([Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), query('SELECT 1')]));
    await c.waitClosed();
    await stillServing();
  });

  it('garbage instead of a TLS ClientHello ends the connection', async () => {
    const c = await WireClient.connect(dp.pgPort);
    c.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    await new Promise((r) => setTimeout(r, 50));
    c.write(Buffer.from('this is not a TLS record at all\r\n'.repeat(4)));
    await c.waitClosed();
    await stillServing();
  });
});

describe('malformed frontend input in a live session', () => {
  it('a typed message with a length below 4 is 08P01, and nothing reaches the target', async () => {
    const c = await loggedIn();
    expect(await simpleQuery(c, 'SELECT 1')).toEqual(['1']);
    c.write(Buffer.from([0x51, 0, 0, 0, 2])); // 'Q', length 2
    expectFatal((await c.outcome()).error, ['08P01']);
    await stillServing();
  });

  it('a message claiming more than 64 MiB is 54000 as soon as its header arrives', async () => {
    const c = await loggedIn();
    c.write(typed('Q', Buffer.from('SELECT '), 64 * 1024 * 1024 + 1));
    expectFatal((await c.outcome()).error, ['54000']);
    const d = await loggedIn();
    d.write(typed('d', Buffer.alloc(0), 0x7fffffff)); // CopyData claiming 2 GiB
    expectFatal((await d.outcome()).error, ['54000', '08P01']);
    await stillServing();
  });

  it('an unknown message type is 08P01', async () => {
    const c = await loggedIn();
    c.write(typed('!', Buffer.from('xx')));
    expectFatal((await c.outcome()).error, ['08P01']);
  });

  it('a query without its terminator is refused; a fixed-size message with the wrong size is 08P01', async () => {
    const c = await loggedIn();
    c.write(typed('Q', Buffer.from('SELECT 1')));
    expectFatal((await c.outcome()).error, ['08P01']);
    const d = await loggedIn();
    d.write(typed('S', Buffer.from('extra'))); // Sync is exactly 4 bytes
    expectFatal((await d.outcome()).error, ['08P01']);
    await stillServing();
  });

  it('a truncated message then a close ends the session, and its row is closed', async () => {
    const c = await loggedIn();
    c.socket.end(query('SELECT 1').subarray(0, 7));
    await c.waitClosed();
    await stillServing();
    await onlyBystanderActive();
    const last = await dp.api.db.prisma.session.findFirstOrThrow({ orderBy: { startedAt: 'desc' } });
    expect(last.status).toBe('closed');
  });

  it('queries sent before the startup is answered are not lost', async () => {
    // Postgres reads them once it is ready. Here some arrive while the gateway checks the
    // token and others while it waits for the agent (frozen for a moment, so they do):
    // a gateway that drops or reorders bytes meanwhile leaves such a client hanging.
    const c = await WireClient.connect(dp.pgPort);
    c.write(startupPacket({ user: 'tester', database: 'pg-test' }));
    expect((await c.next())?.type).toBe('R');
    dp.agent.child.kill('SIGSTOP');
    try {
      c.write(Buffer.concat([password(dp.adminKey), query('SELECT 1')]));
      c.write(query('SELECT 2'));
      for (let i = 3; i <= 6; i++) {
        await new Promise((r) => setTimeout(r, 100));
        c.write(query(`SELECT ${i}`));
      }
    } finally {
      dp.agent.child.kill('SIGCONT');
    }
    const { message, seen } = await c.until('Z', 10_000);
    expect(message?.type).toBe('Z');
    expect(seen[0]?.type).toBe('R'); // AuthenticationOk
    const results: string[] = [];
    while (results.length < 6) {
      const { message: row } = await c.until('DE', 5000);
      expect(row?.type).toBe('D');
      results.push(row!.body.toString('utf8', 6));
    }
    expect(results).toEqual(['1', '2', '3', '4', '5', '6']);
    c.destroy();
  });
});

// A small deterministic PRNG so a failing input can be reproduced from its seed.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('seeded fuzzing', () => {
  const SEED = Number(process.env.WARDEN_FUZZ_SEED ?? 20240601);
  const rand = mulberry32(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const TYPES = 'QPBEDCSHXdcfFp!\0';

  /** Random bytes, sometimes shaped like frames (a real type byte, a plausible or absurd length). */
  function hostileInput(): Buffer {
    const parts: Buffer[] = [];
    const count = 1 + int(4);
    for (let i = 0; i < count; i++) {
      const shape = int(4);
      if (shape === 0) parts.push(bytes(1 + int(64)));
      else {
        const body = bytes(int(32));
        const length = shape === 1 ? body.length + 4 : shape === 2 ? int(16) : int(2 ** 31);
        parts.push(typed(TYPES[int(TYPES.length)]!, body, length));
      }
    }
    return Buffer.concat(parts);
  }

  async function attempt(
    index: number,
    phase: 'startup' | 'session',
  ): Promise<{ error: ErrorFields | null; input: string }> {
    const input = hostileInput();
    let c: WireClient;
    if (phase === 'session') c = await loggedIn();
    else {
      c = await WireClient.connect(dp.pgPort);
      // Half of them start with a valid startup packet, to reach the password phase.
      if (index % 2) c.write(startupPacket({ user: 'fuzz', database: 'pg-test' }));
    }
    c.write(input);
    c.socket.end(); // then hang up: the gateway must notice, whatever state it is in
    let error: ErrorFields | null = null;
    for (;;) {
      const message = await c.next(5000).catch((e: Error) => {
        throw new Error(`${phase} #${index} (seed ${SEED}) input ${input.toString('hex')}: ${e.message}`);
      });
      if (!message) break;
      if (message.type === 'E' && !error) error = decodeError(message.body);
    }
    return { error, input: input.toString('hex') };
  }

  it('a few hundred random inputs: each ends with an error or a close, never a hang', async () => {
    const outcomes: { error: ErrorFields | null }[] = [];
    const phases = [...Array<'startup'>(200).fill('startup'), ...Array<'session'>(100).fill('session')];
    for (let i = 0; i < phases.length; i += 20) {
      outcomes.push(...(await Promise.all(phases.slice(i, i + 20).map((p, j) => attempt(i + j, p)))));
    }
    const errors = outcomes.flatMap((o) => (o.error ? [o.error] : []));
    expect(errors.length).toBeGreaterThan(100);
    for (const e of errors) {
      expect(e.code).toMatch(/^[0-9A-Z]{5}$/);
      expect(['ERROR', 'FATAL']).toContain(e.severity);
    }
    await stillServing();
    await onlyBystanderActive();
    const fresh = await loggedIn();
    expect(await simpleQuery(fresh, 'SELECT 2 + 2')).toEqual(['4']);
    fresh.destroy();
  });
});

describe('clients that go quiet mid-handshake', () => {
  it('are dropped by the startup deadline, also while a TLS handshake is pending', async () => {
    await silent.plain.waitClosed(Math.max(1000, silent.openedAt + 40_000 - Date.now()));
    await silent.afterSsl.waitClosed(Math.max(1000, silent.openedAt + 40_000 - Date.now()));
    expect(Date.now() - silent.openedAt).toBeGreaterThan(25_000);
    await stillServing();
  }, 60_000);
});
