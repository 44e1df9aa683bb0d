import { StringDecoder } from 'node:string_decoder';
import type { RecordedDecision, SshForwardPayload } from '@warden/recording';
import type { SessionRecorder } from '../recording/session-recorder.js';
import type { SftpFileOp } from './sftp-requests.js';

/** Output recorded per channel; beyond it only counts are kept (a `cat` of a large file must not fill the database). */
export const SSH_RECORDED_BYTES_PER_CHANNEL = 8 * 1024 * 1024;

type Stream = 'stdout' | 'stderr' | 'stdin';

/**
 * What an SSH session writes into its recording: per channel, the request (shell or
 * exec with its decision), the bytes of each stream decoded as UTF-8 without
 * splitting characters, resizes, signals and the exit. The asciicast export and the
 * transcript are built from these events.
 */
export class SshSessionRecording {
  private readonly decoders = new Map<string, StringDecoder>();
  private readonly recorded = new Map<number, number>();
  private readonly truncated = new Set<number>();

  constructor(
    private readonly recorder: SessionRecorder,
    private readonly recordInput: boolean,
  ) {}

  shell(channel: number, pty: { term: string; cols: number; rows: number } | undefined): void {
    this.recorder.record('gateway', 'ssh.shell', {
      channel,
      pty: pty ? { term: pty.term, cols: pty.cols, rows: pty.rows } : null,
    });
  }

  exec(channel: number, text: string, decision: RecordedDecision): number {
    return this.recorder.record('client', 'ssh.exec', { channel, text, decision });
  }

  subsystem(channel: number, name: string): void {
    this.recorder.record('client', 'ssh.subsystem', { channel, name });
  }

  data(channel: number, stream: Stream, chunk: Buffer): void {
    if (stream === 'stdin' && !this.recordInput) return;
    if (this.truncated.has(channel)) return;
    const used = this.recorded.get(channel) ?? 0;
    if (used + chunk.length > SSH_RECORDED_BYTES_PER_CHANNEL) {
      this.truncated.add(channel);
      this.recorder.record('gateway', 'ssh.truncated', { channel, recordedBytes: used });
      return;
    }
    this.recorded.set(channel, used + chunk.length);
    const key = `${channel}:${stream}`;
    let decoder = this.decoders.get(key);
    if (!decoder) this.decoders.set(key, (decoder = new StringDecoder('utf8')));
    const data = printable(decoder.write(chunk));
    if (data) this.recorder.record(stream === 'stdin' ? 'client' : 'server', 'ssh.data', { channel, stream, data });
  }

  sftp(channel: number, op: SftpFileOp): void {
    this.recorder.record('client', 'ssh.sftp', { channel, ...op });
  }

  /** A forwarded TCP connection (`ssh -L`) at its end: where it went and how many bytes, never what. */
  forward(channel: number, forward: Omit<SshForwardPayload, 'channel'>): void {
    this.recorder.record('gateway', 'ssh.forward', { channel, ...forward });
  }

  resize(channel: number, cols: number, rows: number): void {
    this.recorder.record('client', 'ssh.resize', { channel, cols, rows });
  }

  signal(channel: number, signal: string): void {
    this.recorder.record('client', 'ssh.signal', { channel, signal });
  }

  exit(channel: number, exit: { code: number } | { signal: string }): void {
    for (const stream of ['stdout', 'stderr', 'stdin'] as const) {
      const rest = printable(this.decoders.get(`${channel}:${stream}`)?.end() ?? '');
      if (rest) this.recorder.record('server', 'ssh.data', { channel, stream, data: rest });
    }
    this.recorder.record(
      'server',
      'ssh.exit',
      'code' in exit ? { channel, code: exit.code } : { channel, code: null, signal: exit.signal },
    );
  }

  refused(channel: number | null, request: string, reason: string): void {
    this.recorder.record('gateway', 'ssh.refused', { channel, request, reason });
  }
}

/**
 * NUL cannot be stored in a JSON column (Postgres jsonb refuses \u0000), and one
 * unstorable event would hold back the shared recording writer: binary output keeps
 * its length and shape with U+FFFD in place of each NUL.
 */
function printable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\ufffd') : text;
}
