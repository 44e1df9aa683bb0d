import type {
  RecordedEvent,
  SessionStartPayload,
  SshDataPayload,
  SshResizePayload,
  SshShellPayload,
} from './events.js';

/** Media type of an asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/). */
export const ASCIICAST_CONTENT_TYPE = 'application/x-asciicast';

export interface AsciicastOptions {
  /** The session channel to export; default: the first interactive shell of the session. */
  channel?: number;
  /** Also emit "i" (input) events when the recording has stdin (options.ssh.recordInput). */
  input?: boolean;
}

/**
 * Turns a recorded SSH session's interactive shell into asciicast v2, incrementally:
 * feed events in seq order, get lines back. Event times come from the recording
 * (`t`, milliseconds), relative to the shell's start. Returns nothing until the
 * chosen channel's shell event is seen; `started` says whether it was.
 */
export class AsciicastWriter {
  private channel: number | undefined;
  private start = 0;
  private session: SessionStartPayload | undefined;
  private sessionTime: number | undefined;
  started = false;

  constructor(private readonly options: AsciicastOptions = {}) {
    this.channel = options.channel;
  }

  push(event: RecordedEvent): string {
    const time = Date.parse(event.t);
    if (event.kind === 'session.start') {
      this.session = event.payload as SessionStartPayload;
      this.sessionTime = time;
      return '';
    }
    if (event.kind === 'ssh.shell') {
      const shell = event.payload as SshShellPayload;
      if (this.started || (this.channel !== undefined && shell.channel !== this.channel)) return '';
      this.channel = shell.channel;
      this.started = true;
      this.start = time;
      return this.header(shell, time) + '\n';
    }
    if (!this.started) return '';
    const offset = Math.max(0, (time - this.start) / 1000);
    const at = Math.round(offset * 1000) / 1000;
    if (event.kind === 'ssh.data') {
      const d = event.payload as SshDataPayload;
      if (d.channel !== this.channel) return '';
      if (d.stream === 'stdin') return this.options.input ? JSON.stringify([at, 'i', d.data]) + '\n' : '';
      return JSON.stringify([at, 'o', d.data]) + '\n';
    }
    if (event.kind === 'ssh.resize') {
      const r = event.payload as SshResizePayload;
      if (r.channel !== this.channel) return '';
      return JSON.stringify([at, 'r', `${r.cols}x${r.rows}`]) + '\n';
    }
    return '';
  }

  private header(shell: SshShellPayload, time: number): string {
    const session = this.session;
    const title = session ? `${session.identity.name}@${session.connection.name}` : undefined;
    return JSON.stringify({
      version: 2,
      width: shell.pty?.cols ?? 80,
      height: shell.pty?.rows ?? 24,
      timestamp: Math.floor((Number.isFinite(time) ? time : (this.sessionTime ?? 0)) / 1000),
      ...(shell.pty ? { env: { TERM: shell.pty.term, SHELL: '/bin/sh' } } : {}),
      ...(title ? { title } : {}),
    });
  }
}

/** The whole asciicast of a session's shell, or null when the session has no shell. */
export function toAsciicast(events: Iterable<RecordedEvent>, options?: AsciicastOptions): string | null {
  const writer = new AsciicastWriter(options);
  let out = '';
  for (const event of events) out += writer.push(event);
  return writer.started ? out : null;
}
