import net from 'node:net';

// A deliberately small, independent Postgres v3 wire client for tests that must send
// what no driver would (garbage, lying lengths, half messages) and read exactly what
// the gateway answers. It does not share code with @warden/pg-wire on purpose: it is
// the oracle the gateway's codec is checked against.

export interface BackendMessage {
  type: string;
  body: Buffer;
}

export interface ErrorFields {
  severity?: string;
  code?: string;
  message?: string;
  [field: string]: string | undefined;
}

const FIELD_NAMES: Record<string, string> = { S: 'severity', V: 'severityNonLocalized', C: 'code', M: 'message' };

export function startupPacket(parameters: Record<string, string>, version = 196608): Buffer {
  const pairs = Object.entries(parameters).flatMap(([k, v]) => [Buffer.from(`${k}\0`), Buffer.from(`${v}\0`)]);
  const body = Buffer.concat([...pairs, Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

/** A typed frontend message; `length` overrides the length field (to lie about it). */
export function typed(type: string, body: Buffer | string, length?: number): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(length ?? payload.length + 4, 1);
  return Buffer.concat([head, payload]);
}

export const password = (token: string): Buffer => typed('p', `${token}\0`);
export const query = (sql: string): Buffer => typed('Q', `${sql}\0`);
export const terminate = (): Buffer => typed('X', Buffer.alloc(0));

export function decodeError(body: Buffer): ErrorFields {
  const fields: ErrorFields = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const key = String.fromCharCode(body[i]!);
    const end = body.indexOf(0, i + 1);
    if (end < 0) throw new Error('unterminated error field');
    fields[FIELD_NAMES[key] ?? key] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return fields;
}

export function decodeParameterStatus(body: Buffer): [string, string] {
  const nameEnd = body.indexOf(0);
  const valueEnd = body.indexOf(0, nameEnd + 1);
  return [body.toString('utf8', 0, nameEnd), body.toString('utf8', nameEnd + 1, valueEnd)];
}

/** A raw socket with a message reader on the backend side. */
export class WireClient {
  readonly socket: net.Socket;
  /** Everything received, unparsed. */
  private buffer = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(data: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** The next whole backend message; null when the socket closed first. Rejects on timeout. */
  async next(timeoutMs = 5000): Promise<BackendMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length >= 5) {
        const len = this.buffer.readInt32BE(1);
        if (len < 4) throw new Error(`gateway sent a message with length ${len}`);
        if (this.buffer.length >= len + 1) {
          const message = { type: String.fromCharCode(this.buffer[0]!), body: this.buffer.subarray(5, len + 1) };
          this.buffer = this.buffer.subarray(len + 1);
          return message;
        }
      }
      if (this.closed) {
        if (this.buffer.length) throw new Error(`socket closed with ${this.buffer.length} bytes of a partial message`);
        return null;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no message from the gateway within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Reads until one of `types` (returned) or the socket closes (null). */
  async until(types: string, timeoutMs = 5000): Promise<{ message: BackendMessage | null; seen: BackendMessage[] }> {
    const deadline = Date.now() + timeoutMs;
    const seen: BackendMessage[] = [];
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (!message || types.includes(message.type)) return { message, seen };
      seen.push(message);
    }
  }

  /**
   * What the gateway does after hostile input: an ErrorResponse (returned, decoded)
   * and/or a close. Rejects if the socket stays open without an answer (a hang).
   */
  async outcome(timeoutMs = 5000): Promise<{ error: ErrorFields | null; closed: boolean }> {
    const { message } = await this.until('E', timeoutMs);
    const error = message ? decodeError(message.body) : null;
    await this.waitClosed(timeoutMs);
    return { error, closed: true };
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      // Drain whatever else arrives; only the close matters here.
      this.buffer = Buffer.alloc(0);
      if (Date.now() > deadline) throw new Error(`socket still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface LoggedIn {
  client: WireClient;
  parameters: Map<string, string>;
}

/** Startup + cleartext password through to ReadyForQuery; throws with the error fields on refusal. */
export async function login(
  port: number,
  token: string,
  database: string,
  user = 'tester',
  timeoutMs = 10_000,
): Promise<LoggedIn> {
  const client = await WireClient.connect(port);
  client.write(startupPacket({ user, database }));
  const auth = await client.next(timeoutMs);
  if (auth?.type !== 'R' || auth.body.readInt32BE(0) !== 3) {
    client.destroy();
    throw new Error(`expected AuthenticationCleartextPassword, got ${auth?.type}`);
  }
  client.write(password(token));
  const parameters = new Map<string, string>();
  for (;;) {
    const message = await client.next(timeoutMs);
    if (!message) throw new Error('closed during startup');
    if (message.type === 'E') {
      client.destroy();
      throw Object.assign(new Error(decodeError(message.body).message), decodeError(message.body));
    }
    if (message.type === 'S') parameters.set(...decodeParameterStatus(message.body));
    if (message.type === 'Z') return { client, parameters };
  }
}

/** Runs one simple query and returns the text of each DataRow's first column. */
export async function simpleQuery(client: WireClient, sql: string, timeoutMs = 5000): Promise<string[]> {
  client.write(query(sql));
  const values: string[] = [];
  let error: ErrorFields | null = null;
  for (;;) {
    const message = await client.next(timeoutMs);
    if (!message) throw new Error('closed during a query');
    if (message.type === 'D') {
      const len = message.body.readInt32BE(2);
      values.push(len < 0 ? '' : message.body.toString('utf8', 6, 6 + len));
    }
    if (message.type === 'E') error = decodeError(message.body);
    if (message.type === 'Z') {
      if (error) throw Object.assign(new Error(error.message), error);
      return values;
    }
  }
}
