// A raw protocol connection to the real Postgres the test environment provides (trust auth):
// 127.0.0.1:5432, user postgres, database test. Override with PGHOST / PGPORT / PGUSER /
// PGDATABASE. For this package's tests only.
import net from 'node:net';
import {
  BackendCode,
  BackendSplitter,
  FrontendParser,
  serializeFrontend as F,
  type TypedFrontendMessage,
} from '@warden/pg-wire';

const host = process.env['PGHOST'] ?? '127.0.0.1';
const port = Number(process.env['PGPORT'] ?? 5432);
const user = process.env['PGUSER'] ?? 'postgres';
const database = process.env['PGDATABASE'] ?? 'test';

/** A raw socket that returns each response as the chunks the socket delivered. */
export class RawConnection {
  private readonly counter = new BackendSplitter();
  private chunks: Buffer[] = [];
  private ready = 0;
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      for (const f of this.counter.split(Buffer.from(chunk))) if (f[0] === BackendCode.ReadyForQuery) this.ready++;
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

  static async open(): Promise<RawConnection> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawConnection(socket);
    await c.request(F.startup({ user, database }));
    return c;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Send `bytes`, wait for ReadyForQuery, return the raw chunks received. */
  async request(bytes: Buffer): Promise<Buffer[]> {
    this.socket.write(bytes);
    while (this.ready === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.waiter = r));
    }
    this.ready--;
    const out = this.chunks;
    this.chunks = [];
    return out;
  }

  close(): void {
    this.socket.end(F.end());
  }
}

/** Frontend messages as the agent would see them (parsed from the bytes it forwards). */
export function frontendMessages(bytes: Buffer): TypedFrontendMessage[] {
  const p = new FrontendParser({ phase: 'normal' });
  p.push(bytes);
  const out: TypedFrontendMessage[] = [];
  for (let m = p.read(); m !== null; m = p.read()) out.push(m as TypedFrontendMessage);
  return out;
}
