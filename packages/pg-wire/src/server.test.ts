// Against the real Postgres the test environment provides (trust auth): 127.0.0.1:5432,
// user postgres, database test. Override with PGHOST / PGPORT / PGUSER / PGDATABASE.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import {
  BackendCode,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeDataRow,
  decodeErrorResponse,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
} from './backend-messages.js';
import { BackendSplitter } from './backend-splitter.js';
import { FrontendParser } from './frontend-parser.js';

const host = process.env['PGHOST'] ?? '127.0.0.1';
const port = Number(process.env['PGPORT'] ?? 5432);
const user = process.env['PGUSER'] ?? 'postgres';
const database = process.env['PGDATABASE'] ?? 'test';

/** A raw socket whose backend bytes go through a BackendSplitter. */
class RawConnection {
  private readonly splitter = new BackendSplitter();
  private frames: Buffer[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk);
      for (let f = this.splitter.read(); f !== null; f = this.splitter.read()) this.frames.push(f);
      this.wake();
    });
    socket.on('error', (e) => {
      this.failure = e;
      this.wake();
    });
    socket.on('close', () => {
      this.failure ??= new Error('connection closed');
      this.wake();
    });
  }

  static connect(): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** All frames up to and including the next ReadyForQuery. */
  async untilReady(): Promise<Buffer[]> {
    for (;;) {
      const i = this.frames.findIndex((f) => f[0] === BackendCode.ReadyForQuery);
      if (i >= 0) return this.frames.splice(0, i + 1);
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

const open: net.Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

async function startSession(): Promise<{ conn: RawConnection; startup: Buffer[] }> {
  const conn = await RawConnection.connect();
  open.push(conn.socket);
  conn.socket.write(serialize.startup({ user, database, application_name: 'warden-pg-wire-test' }));
  return { conn, startup: await conn.untilReady() };
}

const types = (frames: Buffer[]) => frames.map((f) => String.fromCharCode(f[0]!)).join('');

describe('against a real Postgres server', () => {
  it('startup, then a simple query: frames split and decoded', async () => {
    const { conn, startup } = await startSession();
    expect(decodeAuthentication(startup[0]!)).toEqual({ type: 'ok' });
    const params = Object.fromEntries(
      startup
        .filter((f) => f[0] === BackendCode.ParameterStatus)
        .map((f) => {
          const p = decodeParameterStatus(f);
          return [p.name, p.value];
        }),
    );
    expect(params['server_encoding']).toBeDefined();
    expect(params['client_encoding']).toBe('UTF8');
    expect(params['application_name']).toBe('warden-pg-wire-test');
    const key = decodeBackendKeyData(startup.find((f) => f[0] === BackendCode.BackendKeyData)!);
    expect(key.processId).toBeGreaterThan(0);
    expect(decodeReadyForQuery(startup.at(-1)!)).toBe('I');

    conn.socket.write(serialize.query("select 1 as a, 'x'::text as b"));
    const reply = await conn.untilReady();
    expect(types(reply)).toBe('TDCZ');
    expect(decodeRowDescription(reply[0]!)).toEqual([
      { name: 'a', tableOID: 0, columnAttr: 0, dataTypeOID: 23, typeSize: 4, typeModifier: -1, format: 0 },
      { name: 'b', tableOID: 0, columnAttr: 0, dataTypeOID: 25, typeSize: -1, typeModifier: -1, format: 0 },
    ]);
    expect(decodeDataRow(reply[1]!)).toEqual([Buffer.from('1'), Buffer.from('x')]);
    expect(decodeCommandComplete(reply[2]!)).toBe('SELECT 1');
    expect(decodeReadyForQuery(reply[3]!)).toBe('I');

    conn.socket.write(serialize.query('select 1/0'));
    const err = await conn.untilReady();
    expect(types(err)).toBe('EZ');
    expect(decodeErrorResponse(err[0]!)).toMatchObject({
      severity: 'ERROR',
      code: '22012',
      message: 'division by zero',
    });
  });

  it('relays client frames parsed by FrontendParser unchanged (extended protocol, pipelined)', async () => {
    const { conn } = await startSession();
    // What a client would send, parsed as the gateway does, then forwarded frame by frame.
    const clientBytes = Buffer.concat([
      serialize.parse({ name: 'q1', text: 'select $1::int + 1 as n, relname from pg_class where relname = $2' }),
      serialize.bind({ statement: 'q1', values: ['41', 'pg_class'] }),
      serialize.describe({ type: 'P' }),
      serialize.execute(),
      serialize.close({ type: 'S', name: 'q1' }),
      serialize.sync(),
    ]);
    const parser = new FrontendParser({ phase: 'normal' });
    const kinds: string[] = [];
    for (const m of parser.parse(clientBytes)) {
      kinds.push(m.kind);
      conn.socket.write(m.frame);
    }
    expect(kinds).toEqual(['parse', 'bind', 'describe', 'execute', 'close', 'sync']);
    const reply = await conn.untilReady();
    expect(types(reply)).toBe('12TDC3Z');
    const [n, relname] = decodeRowDescription(reply[2]!);
    expect(n).toMatchObject({ name: 'n', dataTypeOID: 23, tableOID: 0 });
    // relname comes from a table: pg_class (OID 1259), attribute 2 (after oid).
    expect(relname).toMatchObject({ name: 'relname', tableOID: 1259, columnAttr: 2, dataTypeOID: 19 });
    expect(decodeDataRow(reply[3]!)).toEqual([Buffer.from('42'), Buffer.from('pg_class')]);
    expect(decodeCommandComplete(reply[4]!)).toBe('SELECT 1');
  });
});
