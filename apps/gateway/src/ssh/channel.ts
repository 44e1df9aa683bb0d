import type { ServerChannel, Session } from 'ssh2';
import {
  encodeSshFrame,
  SshFrameDecoder,
  SshFrameType,
  type SshChannelRequest,
  type SshExit,
  type SshPty,
} from '@warden/proto';
import type { CommandDecision } from '@warden/policy';
import { isTunnelError, type TunnelStream } from '@warden/tunnel';
import { guardCommand, recordedDecision, REFUSED_EXIT_STATUS } from './command-guard.js';
import { SftpRequestReader } from './sftp-requests.js';
import type { SshGatewaySession } from './ssh-session.js';

/** What a held or refused interactive shell is called in reviews and the recording. */
const INTERACTIVE_SHELL = '(interactive shell)';

/** Environment a client may pass (as sshd's usual AcceptEnv); the rest is ignored. */
const ACCEPTED_ENV = /^(LANG|LC_[A-Z]+|TZ|COLORTERM)$/;
const MAX_ENV = 32;

/**
 * One session channel of a client's SSH connection: collects pty-req and env,
 * decides on the shell/exec/subsystem request, then opens one tunnel session on the
 * connection's agent and relays the channel as frames (packages/proto
 * ssh-channel.ts). Backpressure both ways: a full tunnel window pauses the client's
 * channel; a client not reading pauses the tunnel (whose credits then stop the agent).
 */
export class SshSessionChannel {
  private pty: SshPty | undefined;
  private readonly env: Record<string, string> = {};
  private client: ServerChannel | undefined;
  private tunnel: TunnelStream | undefined;
  private started = false;
  private closed = false;
  private exit: SshExit | undefined;
  /** Subsystem channels (sftp) carry a binary protocol: counted, not recorded byte by byte. */
  private recordData = true;
  /** SFTP channels: the file operations the client asks for are recorded by name. */
  private sftp: SftpRequestReader | undefined;

  constructor(
    readonly number: number,
    private readonly session: SshGatewaySession,
    ssh: Session,
  ) {
    ssh.on('pty', (accept, _reject, info) => {
      this.pty = {
        term: info.term || 'xterm',
        cols: info.cols,
        rows: info.rows,
        width: info.width,
        height: info.height,
      };
      accept?.();
    });
    ssh.on('env', (accept, reject, info) => {
      if (ACCEPTED_ENV.test(info.key) && Object.keys(this.env).length < MAX_ENV) {
        this.env[info.key] = String(info.val).slice(0, 256);
        accept?.();
      } else reject?.();
    });
    ssh.on('window-change', (accept, _reject, info) => {
      accept?.();
      if (this.pty)
        Object.assign(this.pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      this.session.recording?.resize(this.number, info.cols, info.rows);
      this.send(encodeSshFrame.window({ cols: info.cols, rows: info.rows, width: info.width, height: info.height }));
    });
    ssh.on('signal', (accept, _reject, info) => {
      accept?.();
      this.session.recording?.signal(this.number, info.name);
      this.send(encodeSshFrame.signal(info.name));
    });
    ssh.on('shell', (accept, reject) => {
      if (this.started) return reject?.();
      this.started = true;
      this.client = accept();
      const decision = this.session.policy.decideShell();
      if (decision.action === 'allow') {
        this.session.recording?.shell(this.number, this.pty);
        void this.open({ type: 'shell' });
      } else void this.guarded(INTERACTIVE_SHELL, decision, { type: 'shell' });
    });
    ssh.on('exec', (accept, reject, info) => {
      if (this.started) return reject?.();
      this.started = true;
      this.client = accept();
      void this.exec(info.command);
    });
    // No 'sftp' listener: ssh2 then hands sftp to 'subsystem' as a raw channel, relayed as bytes.
    ssh.on('subsystem', (accept, reject, info) => this.subsystem(info.name, accept, reject));
    ssh.on('auth-agent', (_accept, reject) =>
      this.refuse(
        'auth-agent',
        session.options.allowAgentForwarding
          ? 'agent forwarding is not supported through Warden yet'
          : 'agent forwarding is not enabled on this connection (options.ssh.allowAgentForwarding)',
        reject,
      ),
    );
    ssh.on('x11', (_accept, reject) => this.refuse('x11', 'X11 forwarding is not supported through Warden', reject));
    ssh.on('close', () => this.close());
  }

  private subsystem(name: string, accept: () => ServerChannel, reject: (() => void) | undefined): void {
    if (this.started) return reject?.();
    if (name !== 'sftp' || !this.session.options.allowSftp) {
      const reason =
        name === 'sftp'
          ? 'SFTP is not enabled on this connection (options.ssh.allowSftp)'
          : `subsystem "${name}" is not supported`;
      this.session.recording?.refused(this.number, `subsystem ${name}`, reason);
      return reject?.();
    }
    this.started = true;
    this.recordData = false;
    this.sftp = new SftpRequestReader();
    this.client = accept();
    this.session.recording?.subsystem(this.number, name);
    void this.open({ type: 'subsystem', name });
  }

  private refuse(request: string, reason: string, reject: (() => void) | undefined): void {
    this.session.recording?.refused(this.number, request, reason);
    reject?.();
  }

  /** An exec request: decided by policy, maybe held for review, then run or refused. */
  private exec(command: string): Promise<void> {
    const decision = this.session.policy.decide(command, { pty: this.pty !== undefined });
    return this.guarded(command, decision, { type: 'exec', command });
  }

  /** Runs the request once policy lets it: refused, held for review, or straight away. */
  private async guarded(command: string, decision: CommandDecision, request: SshChannelRequest): Promise<void> {
    const session = this.session;
    session.counters.statements += 1;
    const ref = session.recording?.exec(this.number, command, recordedDecision(decision));
    if (decision.action === 'block') session.commandBlocked(command, decision);
    if (decision.action === 'review') session.counters.reviews = (session.counters.reviews ?? 0) + 1;
    const client = this.client!;
    client.pause();
    let outcome;
    try {
      outcome = await session.hold(
        guardCommand(command, decision, ref, {
          policy: session.policy,
          reviews: session.deps.reviews,
          publicUrl: session.deps.publicUrl,
          identityId: session.identityId,
          connectionId: session.connectionId,
          sessionId: session.id,
          recorder: session.recorder,
          signal: session.lifetime.signal,
          tell: (line) => this.stderr(line),
        }),
      );
    } catch (err) {
      session.log.error({ err, sessionId: session.id }, 'could not hold the command for review');
      outcome = { run: false as const, message: 'the command needs a review, which could not be requested; refused' };
    }
    if (this.closed) return;
    if (!outcome.run) {
      session.counters.blocked += 1;
      this.finish(`Warden: ${outcome.message}`, REFUSED_EXIT_STATUS);
      return;
    }
    client.resume();
    if (request.type === 'shell') session.recording?.shell(this.number, this.pty);
    await this.open(request);
  }

  private async open(request: SshChannelRequest): Promise<void> {
    const session = this.session;
    const { connection } = session;
    let tunnel: TunnelStream;
    try {
      tunnel = await session.openChannelTunnel(this.number, request, {
        ...(this.pty ? { pty: this.pty } : {}),
        ...(Object.keys(this.env).length ? { env: { ...this.env } } : {}),
      });
    } catch (error) {
      this.finish(`Warden: ${describeOpenFailure(error, connection)}`, 255);
      return;
    }
    if (this.closed) {
      tunnel.destroy();
      return;
    }
    this.tunnel = tunnel;
    this.relay(tunnel, this.client!);
  }

  private relay(tunnel: TunnelStream, client: ServerChannel): void {
    const { counters } = this.session;
    const recording = this.recordData ? this.session.recording : undefined;
    // Client → target.
    client.on('data', (chunk: Buffer) => {
      counters.bytesIn += chunk.length;
      recording?.data(this.number, 'stdin', chunk);
      if (this.sftp) for (const op of this.sftp.push(chunk)) this.session.recording?.sftp(this.number, op);
      if (!tunnel.write(encodeSshFrame.data(chunk))) {
        client.pause();
        tunnel.once('drain', () => client.resume());
      }
    });
    client.on('end', () => this.send(encodeSshFrame.eof()));
    client.resume();

    // Target → client.
    const decoder = new SshFrameDecoder();
    tunnel.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        this.finish('Warden: invalid data from the agent', 255);
        return;
      }
      for (const frame of frames) {
        if (frame.type === SshFrameType.Data || frame.type === SshFrameType.Stderr) {
          counters.bytesOut += frame.data.length;
          const stderr = frame.type === SshFrameType.Stderr;
          recording?.data(this.number, stderr ? 'stderr' : 'stdout', frame.data);
          const ok = stderr ? client.stderr.write(frame.data) : client.write(frame.data);
          if (!ok) {
            tunnel.pause();
            (stderr ? client.stderr : client).once('drain', () => tunnel.resume());
          }
        } else if (frame.type === SshFrameType.Eof) {
          // Not relayed as it comes: ssh2 sends no exit-status after EOF, so EOF goes with the end.
        } else if (frame.type === SshFrameType.Exit) {
          this.exit = frame.exit;
        }
      }
    });
    tunnel.on('end', () => {
      const exit = this.exit;
      if (exit) {
        recording?.exit(this.number, 'code' in exit ? exit : { signal: exit.signal });
        if ('code' in exit) client.exit(exit.code);
        else client.exit(exit.signal, exit.coreDumped, exit.message ?? '');
      }
      this.closed = true;
      client.end();
    });
    tunnel.on('error', (error) => {
      const lost = isTunnelError(error, 'AGENT_DISCONNECTED') || isTunnelError(error, 'SHUTDOWN');
      this.finish(
        lost
          ? `Warden: lost the connection to agent "${this.session.connection.agent.name}"`
          : 'Warden: the session to the target ended unexpectedly',
        255,
      );
    });
  }

  private send(frame: Buffer): void {
    if (this.tunnel && !this.tunnel.destroyed) this.tunnel.write(frame);
  }

  private stderr(line: string): void {
    if (!this.client || this.closed) return;
    this.client.stderr.write(`${line}${this.pty ? '\r\n' : '\n'}`);
  }

  /** Ends the channel from the gateway's side: a message on stderr and an exit status. */
  finish(message: string, status: number): void {
    if (this.closed) return;
    this.closed = true;
    this.tunnel?.destroy();
    const client = this.client;
    if (!client) return;
    client.stderr.write(`${this.pty ? '\r\n' : ''}${message}${this.pty ? '\r\n' : '\n'}`);
    this.session.recording?.exit(this.number, { code: status });
    client.exit(status);
    client.end();
  }

  private close(): void {
    if (this.closed && !this.tunnel) return;
    this.closed = true;
    this.tunnel?.destroy();
  }
}

function describeOpenFailure(error: unknown, connection: { name: string; agent: { name: string } }): string {
  if (isTunnelError(error, 'OPEN_FAILED')) return `connection "${connection.name}": ${(error as Error).message}`;
  if (
    isTunnelError(error, 'AGENT_OFFLINE') ||
    isTunnelError(error, 'TIMEOUT') ||
    isTunnelError(error, 'AGENT_DISCONNECTED')
  )
    return `agent "${connection.agent.name}" serving connection "${connection.name}" is offline`;
  return `could not open a session on connection "${connection.name}"`;
}
