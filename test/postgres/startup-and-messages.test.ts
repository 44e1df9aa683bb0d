import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { adminQuery } from '../support/postgres.js';
import {
  decodeError,
  decodeParameterStatus,
  password,
  query,
  startupPacket,
  typed,
  WireClient,
  type BackendMessage,
} from '../support/wire.js';

// Startup parameters, lexing pins and the frontend message allow-list, through the real gateway
// and agent processes. `pg-test` has no policies (a transparent proxy); `pg-guarded` points at the
// same database with the default rule pack (guarded).
let dp: DataPath;
const GUARDED = 'pg-guarded';
const UNGUARDED = 'pg-test';

beforeAll(async () => {
  dp = await startDataPath();
  const created = await dp.api.request('POST', '/api/connections', {
    body: {
      name: GUARDED,
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', port: 5432, database: dp.targetDb, user: 'postgres', sslmode: 'disable' },
    },
  });
  expect(created.status).toBe(201);
  // A function the policy cannot see into, made on the target directly: it changes a lexing
  // setting from inside, as a route the statement policy might miss would.
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query(
    `CREATE FUNCTION public.flip_strings() RETURNS text LANGUAGE sql AS $$ SELECT set_config('standard_conforming_strings', 'off', false) $$`,
  );
  await direct.end();
});
afterAll(async () => {
  await dp?.close();
});

function psqlOn(connection: string, args: string[], env: Record<string, string> = {}) {
  return dp.psql(['-A', '-t', ...args], { connection, env });
}

/** A raw client logged in with extra startup parameters; throws with the error fields on refusal. */
async function rawLogin(connection: string, parameters: Record<string, string> = {}) {
  const client = await WireClient.connect(dp.pgPort);
  client.write(startupPacket({ user: 'tester', database: connection, ...parameters }));
  const auth = await client.next(10_000);
  if (auth?.type === 'E') throw Object.assign(new Error(decodeError(auth.body).message), decodeError(auth.body));
  if (auth?.type !== 'R') throw new Error(`expected an authentication request, got ${auth?.type}`);
  client.write(password(dp.adminKey));
  const reported = new Map<string, string>();
  for (;;) {
    const message = await client.next(15_000);
    if (!message) throw new Error('closed during startup');
    if (message.type === 'E') {
      client.destroy();
      throw Object.assign(new Error(decodeError(message.body).message), decodeError(message.body));
    }
    if (message.type === 'S') reported.set(...decodeParameterStatus(message.body));
    if (message.type === 'Z') return { client, reported };
  }
}

/** A FunctionCall message: function OID, no arguments, text result. */
function functionCall(oid: number): Buffer {
  const body = Buffer.alloc(10);
  body.writeUInt32BE(oid, 0);
  body.writeInt16BE(0, 4); // argument format codes
  body.writeInt16BE(0, 6); // arguments
  body.writeInt16BE(0, 8); // result format
  return typed('F', body);
}

/** Messages up to and including the next ReadyForQuery. */
async function untilReady(client: WireClient): Promise<BackendMessage[]> {
  const { message, seen } = await client.until('Z', 10_000);
  if (!message) throw new Error(`closed before ReadyForQuery after ${seen.map((m) => m.type).join('')}`);
  return [...seen, message];
}

const VERSION_OID = 89; // pg_catalog.version()

describe('startup parameters reach the target as sent', () => {
  for (const connection of [UNGUARDED, GUARDED]) {
    it(`psql with PGTZ, PGDATESTYLE, PGCLIENTENCODING=UTF8 and PGOPTIONS (${connection})`, async () => {
      const result = await psqlOn(
        connection,
        [
          '-c',
          'SHOW timezone',
          '-c',
          'SHOW datestyle',
          '-c',
          'SHOW client_encoding',
          '-c',
          'SHOW work_mem',
          '-c',
          'SHOW search_path',
          '-c',
          'SHOW application_name',
        ],
        {
          PGTZ: 'Asia/Tokyo',
          PGDATESTYLE: 'SQL, DMY',
          PGCLIENTENCODING: 'UTF8',
          PGOPTIONS: '-c work_mem=8MB --search-path=app,\\ public',
          PGAPPNAME: 'startup test',
        },
      );
      expect(result.stderr).toBe('');
      expect(result.stdout.trim().split('\n')).toEqual([
        'Asia/Tokyo',
        'SQL, DMY',
        'UTF8',
        '8MB',
        'app, public',
        'startup test',
      ]);
    });

    it(`a statement_timeout startup parameter and one in options both fire (${connection})`, async () => {
      const client = new pg.Client({
        connectionString: dp.url(dp.adminKey, connection),
        statement_timeout: 100,
        lock_timeout: 2000,
        idle_in_transaction_session_timeout: 60_000,
      });
      await client.connect();
      try {
        const settings = await client.query(
          "SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('idle_in_transaction_session_timeout') AS it",
        );
        expect(settings.rows[0]).toEqual({ st: '100ms', lt: '2s', it: '1min' });
        const started = Date.now();
        await expect(client.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        await client.end();
      }
      const viaOptions = await psqlOn(connection, ['-c', 'SELECT pg_sleep(5)'], {
        PGOPTIONS: '-c statement_timeout=100',
      });
      expect(viaOptions.code).not.toBe(0);
      expect(viaOptions.stderr).toContain('canceling statement due to statement timeout');
    });
  }

  it('user, database and replication stay the connection’s', async () => {
    const { client } = await rawLogin(UNGUARDED, { replication: 'false' });
    client.write(query('SELECT current_user'));
    const rows = await untilReady(client);
    expect(rows.find((m) => m.type === 'D')?.body.toString('utf8', 6)).toBe('postgres');
    client.destroy();
    for (const value of ['database', 'true', 'on', 'yes', '1']) {
      await expect(rawLogin(UNGUARDED, { replication: value }), value).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('replication connections are not supported'),
      });
    }
  });
});

describe('protocol options', () => {
  it('_pq_. options and a newer minor version are declined with NegotiateProtocolVersion, as the server does', async () => {
    const client = await WireClient.connect(dp.pgPort);
    client.write(startupPacket({ user: 'tester', database: UNGUARDED, '_pq_.test_option': 'x' }, (3 << 16) | 2));
    const negotiate = await client.next(10_000);
    expect(negotiate?.type).toBe('v');
    expect(negotiate!.body.readInt32BE(0)).toBe(0);
    expect(negotiate!.body.readInt32BE(4)).toBe(1);
    expect(negotiate!.body.toString('utf8', 8)).toBe('_pq_.test_option\0');
    expect((await client.next(10_000))?.type).toBe('R');
    client.write(password(dp.adminKey));
    const { message } = await client.until('ZE', 15_000);
    expect(message?.type).toBe('Z');
    client.destroy();
  });
});

describe('lexing pins on guarded connections', () => {
  it('PGCLIENTENCODING=SJIS is refused on a guarded connection, naming the parameter, and accepted unguarded', async () => {
    const guarded = await psqlOn(GUARDED, ['-c', 'SELECT 1'], { PGCLIENTENCODING: 'SJIS' });
    expect(guarded.code).not.toBe(0);
    expect(guarded.stderr).toContain('client_encoding');
    expect(guarded.stderr).toContain('UTF8');
    const unguarded = await psqlOn(UNGUARDED, ['-c', 'SHOW client_encoding'], { PGCLIENTENCODING: 'SJIS' });
    expect(unguarded.stderr).toBe('');
    expect(unguarded.stdout.trim()).toBe('SJIS');
  });

  it('standard_conforming_strings=off in options is refused in every spelling on a guarded connection', async () => {
    for (const options of [
      '-c standard_conforming_strings=off',
      '-cstandard_conforming_strings=off',
      '--standard-conforming-strings=off',
      '-c application_name=x\\ y -c standard_conforming_strings=off',
    ]) {
      const guarded = await psqlOn(GUARDED, ['-c', 'SELECT 1'], { PGOPTIONS: options });
      expect(guarded.code, options).not.toBe(0);
      expect(guarded.stderr, options).toMatch(/standard_conforming_strings.*must be on/);
    }
    // Asking for the pinned value, in another spelling, is fine.
    const same = await psqlOn(GUARDED, ['-c', 'SHOW standard_conforming_strings'], {
      PGOPTIONS: '-c standard_conforming_strings=true',
    });
    expect(same.stderr).toBe('');
    expect(same.stdout.trim()).toBe('on');
    const unguarded = await psqlOn(UNGUARDED, ['-c', 'SHOW standard_conforming_strings'], {
      PGOPTIONS: '-c standard_conforming_strings=off',
    });
    expect(unguarded.stderr).toBe('');
    expect(unguarded.stdout.trim()).toBe('off');
  });

  it('a startup parameter for a pin with another value is refused with 22023; server switches with 0A000', async () => {
    await expect(rawLogin(GUARDED, { backslash_quote: 'on' })).rejects.toMatchObject({
      code: '22023',
      message: expect.stringMatching(/backslash_quote.*safe_encoding/),
    });
    await expect(rawLogin(GUARDED, { options: '-O' })).rejects.toMatchObject({ code: '0A000' });
    const { client } = await rawLogin(UNGUARDED, { backslash_quote: 'on' });
    client.destroy();
  });

  it('the target session of a guarded connection starts with the pins, whatever the database defaults', async () => {
    await adminQuery(`ALTER DATABASE "${dp.targetDb}" SET backslash_quote = on`);
    try {
      const guarded = await psqlOn(GUARDED, ['-c', 'SHOW backslash_quote', '-c', 'SHOW standard_conforming_strings']);
      expect(guarded.stdout.trim().split('\n')).toEqual(['safe_encoding', 'on']);
      const unguarded = await psqlOn(UNGUARDED, ['-c', 'SHOW backslash_quote']);
      expect(unguarded.stdout.trim()).toBe('on');
    } finally {
      await adminQuery(`ALTER DATABASE "${dp.targetDb}" RESET backslash_quote`);
    }
  });

  it('a guarded session ends at once when the server reports a pinned setting changed', async () => {
    const { client, reported } = await rawLogin(GUARDED);
    expect(reported.get('standard_conforming_strings')).toBe('on');
    expect(reported.get('client_encoding')).toBe('UTF8');
    client.write(query('SELECT public.flip_strings()'));
    const { error, closed } = await client.outcome(10_000);
    expect(closed).toBe(true);
    expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
    expect(error?.message).toContain('standard_conforming_strings');
    // The session record is closed with that reason.
    const deadline = Date.now() + 5000;
    let session;
    do {
      await new Promise((r) => setTimeout(r, 100));
      session = await dp.api.db.prisma.session.findFirst({
        where: { endReason: { contains: 'standard_conforming_strings' } },
      });
    } while (!session && Date.now() < deadline);
    expect(session?.status).toBe('interrupted');
    // Unguarded, the same call is the client's business.
    const { client: plain } = await rawLogin(UNGUARDED);
    plain.write(query('SELECT public.flip_strings()'));
    const answers = await untilReady(plain);
    expect(answers.map((m) => m.type)).toContain('C');
    expect(answers.map((m) => m.type)).not.toContain('E');
    plain.destroy();
  });
});

describe('frontend messages on guarded connections', () => {
  it('a FunctionCall is refused with 42501 in its place in the pipeline; the session goes on', async () => {
    const { client } = await rawLogin(GUARDED);
    client.write(Buffer.concat([query('SELECT 1'), functionCall(VERSION_OID), query('SELECT 2')]));
    const first = await untilReady(client);
    expect(first.find((m) => m.type === 'D')?.body.toString('utf8', 6)).toBe('1');
    const refused = await untilReady(client);
    expect(refused.map((m) => m.type)).toEqual(['E', 'Z']);
    expect(decodeError(refused[0]!.body)).toMatchObject({
      code: '42501',
      message: expect.stringContaining('the fast-path function call interface cannot be judged by policy'),
    });
    const second = await untilReady(client);
    expect(second.find((m) => m.type === 'D')?.body.toString('utf8', 6)).toBe('2');
    client.destroy();
    // The refusal is an event for SIEM like any blocked statement, naming the protocol rule.
    let rules: string[] = [];
    for (let i = 0; i < 50 && !rules.includes('protocol.function-call'); i++) {
      const list = await dp.api.request('GET', '/api/events?types=statement.blocked&limit=20');
      rules = (list.body.events as { data: { rule: string } }[]).map((e) => e.data.rule);
      if (!rules.includes('protocol.function-call')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rules).toContain('protocol.function-call');
  });

  it('unguarded, a FunctionCall reaches the server', async () => {
    const { client } = await rawLogin(UNGUARDED);
    client.write(functionCall(VERSION_OID));
    const answer = await untilReady(client);
    expect(answer.map((m) => m.type)).toEqual(['V', 'Z']);
    expect(answer[0]!.body.toString('utf8', 4)).toContain('PostgreSQL');
    client.destroy();
  });

  it('any other message after startup is a protocol violation ending that client only', async () => {
    const { client } = await rawLogin(GUARDED);
    const { client: bystander } = await rawLogin(GUARDED);
    client.write(password('again'));
    const { error } = await client.outcome(10_000);
    expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
    bystander.write(query('SELECT 3'));
    const answer = await untilReady(bystander);
    expect(answer.find((m) => m.type === 'D')?.body.toString('utf8', 6)).toBe('3');
    bystander.destroy();
  });
});

describe('clients that leave before their startup packet', () => {
  it('a Terminate before the startup packet closes quietly', async () => {
    // Written without closing our side: only the Terminate can make the gateway close.
    const received = await rawExchange(Buffer.from([0x58, 0, 0, 0, 4]), false);
    expect(received.closed).toBe(true);
    expect(received.bytes).toBe(0);
  });

  it('a connect-and-close leaves nothing in the log above debug', async () => {
    // The previous test's own line may still be on its way: start counting once the log is quiet.
    let seen = -1;
    while (seen !== dp.gateway.output().length) {
      seen = dp.gateway.output().length;
      await new Promise((r) => setTimeout(r, 300));
    }
    const before = seen;
    await rawExchange(Buffer.alloc(0), true);
    await rawExchange(Buffer.from([0x58, 0, 0, 0, 4]), false);
    const lines = () =>
      dp.gateway
        .output()
        .slice(before)
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string });
    await expect
      .poll(() => lines().filter((l) => /left before its startup packet/.test(l.msg)).length, { timeout: 5000 })
      .toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(lines().filter((l) => l.level > 20 && /client|startup/.test(l.msg))).toEqual([]);
    expect(lines().filter((l) => /left before its startup packet/.test(l.msg))).toHaveLength(2);
  });
});

/** Connects, sends `bytes` (then half-closes if `close`); how many bytes came back before the gateway closed. */
function rawExchange(bytes: Buffer, close: boolean): Promise<{ closed: boolean; bytes: number }> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const socket = net.connect({ host: '127.0.0.1', port: dp.pgPort }, () =>
      close ? socket.end(bytes) : socket.write(bytes),
    );
    socket.on('data', (chunk) => (received += chunk.length));
    socket.on('error', reject);
    socket.setTimeout(5000, () => reject(new Error('the gateway kept the connection open')));
    socket.on('close', () => resolve({ closed: true, bytes: received }));
  });
}
