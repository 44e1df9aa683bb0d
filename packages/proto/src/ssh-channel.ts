// The SSH sub-protocol carried inside one tunnel session. The gateway terminates the
// client's SSH connection and opens one tunnel session per session channel (shell,
// exec or subsystem) and per forwarded TCP connection (direct-tcpip); the agent runs that channel on its own SSH connection to the
// target. The tunnel carries bytes with per-session credit flow control, so the
// channel's streams and control messages travel as small frames inside it:
//
//   type (1 byte) | length (4 bytes, big-endian) | body
//
// stdout and stderr stay apart (their own frame types); control messages carry
// JSON bodies. Gateway and agent both use this module, so the format is written once.

/** What a tunnel session for an SSH channel runs, chosen before it is opened. */
export type SshChannelRequest =
  { type: 'shell' } | { type: 'exec'; command: string } | { type: 'subsystem'; name: string } | SshDirectTcpip;

/**
 * A local port forward (`ssh -L`, a direct-tcpip channel): the agent asks the target
 * to connect to host:port (ssh2 forwardOut), so the connection is made from the target
 * as with plain OpenSSH, and relays its bytes as Data/Eof frames. The origin is what
 * the client reported about the connection it forwards (its local peer).
 */
export interface SshDirectTcpip {
  type: 'direct-tcpip';
  host: string;
  port: number;
  originAddr: string;
  originPort: number;
}

/** The client's pty-req, relayed to the target as asked. */
export interface SshPty {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

export interface SshWindow {
  cols: number;
  rows: number;
  width: number;
  height: number;
}

/** How the remote command ended: an exit status, or the signal that killed it. */
export type SshExit = { code: number } | { signal: string; coreDumped: boolean; message?: string };

export const SshFrameType = {
  /** gateway → agent: the client's stdin; agent → gateway: the command's stdout. */
  Data: 1,
  /** agent → gateway: the command's stderr. */
  Stderr: 2,
  /** Either direction: no more Data from this side (SSH channel EOF). */
  Eof: 3,
  /** gateway → agent: window-change (JSON SshWindow). */
  Window: 4,
  /** gateway → agent: a signal for the remote process (UTF-8 name without SIG, e.g. INT). */
  Signal: 5,
  /** agent → gateway: exit-status or exit-signal (JSON SshExit). */
  Exit: 6,
} as const;
export type SshFrameType = (typeof SshFrameType)[keyof typeof SshFrameType];

export type SshFrame =
  | { type: typeof SshFrameType.Data | typeof SshFrameType.Stderr; data: Buffer }
  | { type: typeof SshFrameType.Eof }
  | { type: typeof SshFrameType.Window; window: SshWindow }
  | { type: typeof SshFrameType.Signal; signal: string }
  | { type: typeof SshFrameType.Exit; exit: SshExit };

const HEADER_BYTES = 5;
/** Larger bodies are refused: Data is written in chunks far below this. */
export const MAX_SSH_FRAME_BYTES = 1024 * 1024;

export class SshFrameError extends Error {
  override name = 'SshFrameError';
}

function frame(type: SshFrameType, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = type;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

export const encodeSshFrame = {
  data: (data: Buffer) => frame(SshFrameType.Data, data),
  stderr: (data: Buffer) => frame(SshFrameType.Stderr, data),
  eof: () => frame(SshFrameType.Eof, Buffer.alloc(0)),
  window: (window: SshWindow) => frame(SshFrameType.Window, json(window)),
  signal: (signal: string) => frame(SshFrameType.Signal, Buffer.from(signal, 'utf8')),
  exit: (exit: SshExit) => frame(SshFrameType.Exit, json(exit)),
};

/** Splits a byte stream into frames; push() returns the frames completed by a chunk. */
export class SshFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): SshFrame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: SshFrame[] = [];
    let at = 0;
    while (this.pending.length - at >= HEADER_BYTES) {
      const type = this.pending[at]!;
      const length = this.pending.readUInt32BE(at + 1);
      if (length > MAX_SSH_FRAME_BYTES) throw new SshFrameError(`SSH frame of ${length} bytes is too large`);
      if (this.pending.length - at - HEADER_BYTES < length) break;
      const body = this.pending.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
      out.push(decodeBody(type, body));
      at += HEADER_BYTES + length;
    }
    this.pending = at === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(at));
    return out;
  }
}

function decodeBody(type: number, body: Buffer): SshFrame {
  const parse = <T>(): T => {
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new SshFrameError(`malformed SSH frame of type ${type}`);
    }
  };
  switch (type) {
    case SshFrameType.Data:
    case SshFrameType.Stderr:
      return { type, data: body };
    case SshFrameType.Eof:
      return { type };
    case SshFrameType.Window:
      return { type, window: parse<SshWindow>() };
    case SshFrameType.Signal:
      return { type, signal: body.toString('utf8') };
    case SshFrameType.Exit:
      return { type, exit: parse<SshExit>() };
    default:
      throw new SshFrameError(`unknown SSH frame type ${type}`);
  }
}
