import { createHash } from 'node:crypto';
import type { Connection as SshConnection } from 'ssh2';
import type { Principal } from '@warden/access';
import type { SessionStatus } from '@warden/db';
import { ShellPolicy, type CommandDecision } from '@warden/policy';
import { encodeSessionOpen, type SshChannelRequest, type SshSessionOpen, type SshTarget } from '@warden/proto';
import type { ReviewService } from '@warden/reviews';
import type { Logger } from '@warden/runtime';
import type { TunnelServer, TunnelStream } from '@warden/tunnel';
import { endWithGrant } from '../access-window.js';
import type { ConnectionWithAgent } from '../connection-targets.js';
import type { SessionPolicy } from '../policy-loader.js';
import { recordingOptionsOf } from '../recording/recording-options.js';
import type { Recordings } from '../recording/recordings.js';
import type { SessionRecorder } from '../recording/session-recorder.js';
import {
  credentialOf,
  type LiveSession,
  type SessionCounters,
  type SessionCredential,
  type SessionTracker,
} from '../session-tracker.js';
import { SshSessionChannel } from './channel.js';
import { SshForwardChannel } from './forward-channel.js';
import type { SessionRequests } from './session-requests.js';
import type { SshOptions } from './options.js';
import { SshSessionRecording } from './session-recording.js';

export interface SshSessionDeps {
  tunnel: TunnelServer;
  tracker: SessionTracker;
  recordings: Recordings;
  reviews: ReviewService;
  publicUrl: string;
  logger: Logger;
}

export interface SshSessionStart {
  client: SshConnection;
  /** Session channel opens, including those that arrived before the session was ready. */
  requests: SessionRequests;
  clientAddr: string | undefined;
  username: string;
  principal: Principal;
  connection: ConnectionWithAgent;
  target: SshTarget;
  policy: ShellPolicy;
  options: SshOptions;
  grant?: { id: string; endsAt: Date };
}

/**
 * One authenticated SSH connection: one session row and one recording, whatever
 * channels it opens. Each session channel runs on a tunnel session of its own
 * (channel.ts). Ends from outside (kill, containment, grant end, shutdown) say why
 * on every open channel's stderr and disconnect the client.
 */
export class SshGatewaySession implements LiveSession {
  id = '';
  readonly identityId: string;
  readonly connectionId: string;
  readonly viaGrant: boolean;
  readonly credential: SessionCredential;
  readonly counters: SessionCounters = { bytesIn: 0, bytesOut: 0, statements: 0, blocked: 0 };
  readonly connection: ConnectionWithAgent;
  readonly target: SshTarget;
  /** Replaced when the connection's policies change (applyPolicy): the next exec is judged by the new one. */
  policy: ShellPolicy;
  readonly options: SshOptions;
  readonly log: Logger;
  readonly lifetime = new AbortController();
  recorder: SessionRecorder | undefined;
  recording: SshSessionRecording | undefined;
  private readonly channels = new Set<SshSessionChannel>();
  /** Open local port forwards (ssh -L): numbered with the session channels, ended with the session. */
  private readonly forwards = new Set<SshForwardChannel>();
  private nextChannel = 0;
  private ended = false;
  private cancelGrantEnd: () => void = () => {};
  /** Review waits in progress: the session's end waits for their cancellation to be recorded. */
  private readonly holds = new Set<Promise<unknown>>();

  constructor(
    private readonly start: SshSessionStart,
    readonly deps: SshSessionDeps,
  ) {
    this.identityId = start.principal.identityId;
    this.connectionId = start.connection.id;
    this.viaGrant = start.grant !== undefined;
    this.credential = credentialOf(start.principal);
    this.connection = start.connection;
    this.target = start.target;
    this.policy = start.policy;
    this.options = start.options;
    this.log = deps.logger;
  }

  async run(): Promise<void> {
    const { client, principal, connection } = this.start;
    // Listened for before the session row exists (a database round trip): a client that leaves, or
    // asks for a remote forward, meanwhile must still end the session and be recorded.
    let left: string | undefined;
    const leftEarly = (why: string) => () => void (left ??= why);
    const onClose = leftEarly('client disconnected');
    const onError = leftEarly('client connection error');
    client.once('close', onClose);
    client.once('error', onError);
    const earlyRequests: string[] = [];
    let recordingReady = false;
    const refuseGlobal = (accept: unknown, reject: (() => void) | undefined, name: string) => {
      if (recordingReady) this.refuseGlobalRequest(name);
      else if (earlyRequests.length < 16) earlyRequests.push(name);
      reject?.();
      void accept;
    };
    // Global requests: remote forwarding (-R) and stream-local forwards, all refused.
    client.on('request', refuseGlobal);
    this.id = await this.deps.tracker.begin({
      identityId: principal.identityId,
      connectionId: connection.id,
      agentId: connection.agent.id,
      protocol: 'ssh',
      clientAddr: this.start.clientAddr,
      // The SSH transport is encrypted, but it is not TLS: clientTls says TLS (Postgres, HTTP).
      clientTls: false,
      clientUser: this.start.username,
    });
    this.startRecording();
    this.deps.tracker.register(this);
    this.cancelGrantEnd = endWithGrant(this.start.grant, () =>
      this.terminate('the access window for this connection has ended', 'closed'),
    );
    this.start.requests.handle((accept, reject) => {
      if (this.ended) return reject?.();
      const channel = new SshSessionChannel(this.nextChannel++, this, accept());
      this.channels.add(channel);
    });
    this.start.requests.handleTcpip((accept, reject, info) => {
      if (this.ended) return reject();
      if (!this.options.allowPortForwarding) {
        this.recording?.refused(null, 'direct-tcpip', forwardingDisabled(`${info.destIP}:${info.destPort}`));
        return reject();
      }
      const forward = new SshForwardChannel(this.nextChannel++, this, info, (done) => this.forwards.delete(done));
      this.forwards.add(forward);
      void forward.open(accept, reject);
    });
    for (const name of earlyRequests.splice(0)) this.refuseGlobalRequest(name);
    recordingReady = true;
    client.off('close', onClose);
    client.off('error', onError);
    client.on('close', () => void this.end('closed', 'client disconnected'));
    client.on('error', () => void this.end('closed', 'client connection error'));
    if (left !== undefined) void this.end('closed', left);
  }

  private refuseGlobalRequest(name: string): void {
    this.recording?.refused(
      null,
      name,
      this.options.allowPortForwarding
        ? `remote port forwarding (${name}) is not supported through Warden yet; local forwarding (ssh -L) is`
        : forwardingDisabled(name),
    );
  }

  private startRecording(): void {
    const { principal, connection } = this.start;
    if (!recordingOptionsOf(connection.options).enabled) return;
    this.recorder = this.deps.recordings.begin(this.id, {
      protocol: 'ssh',
      principal,
      connection,
      client: { addr: this.start.clientAddr, tls: false, user: this.start.username },
    });
    this.recording = new SshSessionRecording(this.recorder, this.options.recordInput);
  }

  /** The tunnel session one SSH channel of this session runs over (a shell, exec, subsystem or forward). */
  openChannelTunnel(
    channel: number,
    request: SshChannelRequest,
    extras: Pick<SshSessionOpen, 'pty' | 'env'> = {},
  ): Promise<TunnelStream> {
    const { connection } = this;
    return this.deps.tunnel.openSession(connection.agent.name, {
      type: 'ssh',
      sessionId: `${this.id}:${channel}`,
      config: encodeSessionOpen({
        kind: 'ssh',
        connection: connection.name,
        target: this.target,
        request,
        ...extras,
      }),
    });
  }
  /** The connection's policies changed: exec commands from now on are judged by the new rules. */
  applyPolicy(next: SessionPolicy): void {
    this.policy = new ShellPolicy(next.policy.rules);
  }

  /** Tracks a review wait so the recording is sealed only after its outcome is in it. */
  /** A command policy refused: logged, counted by the channel, and published as `command.blocked`. */
  commandBlocked(command: string, decision: Extract<CommandDecision, { action: 'block' }>): void {
    this.log.info(
      { sessionId: this.id, rule: decision.rule, construct: decision.construct },
      'command blocked by policy',
    );
    const { principal, connection } = this.start;
    // The line is identified by its hash only: its arguments may hold secrets.
    void this.deps.tracker.events.emit(
      'command.blocked',
      {
        identity: { id: principal.identityId, name: principal.name },
        connection: { id: connection.id, name: connection.name },
        session: { id: this.id },
      },
      {
        rule: decision.rule,
        message: decision.message,
        construct: decision.construct ?? null,
        commandHash: createHash('sha256').update(command, 'utf8').digest('hex'),
        commandLength: command.length,
      },
    );
  }

  hold<T>(wait: Promise<T>): Promise<T> {
    this.holds.add(wait);
    void wait.finally(() => this.holds.delete(wait)).catch(() => {});
    return wait;
  }

  terminate(reason: string, status: SessionStatus): void {
    if (this.ended) return;
    for (const channel of this.channels) channel.finish(`Warden: session ended: ${reason}`, 255);
    // Give the channels' messages a moment to leave before the transport closes.
    setTimeout(() => this.start.client.end(), 50).unref();
    void this.end(status, reason);
  }

  private async end(status: SessionStatus, reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.cancelGrantEnd();
    this.lifetime.abort();
    for (const channel of this.channels) channel.finish(`Warden: ${reason}`, 255);
    for (const forward of this.forwards) forward.finish(reason);
    await Promise.allSettled([...this.holds]);
    if (this.id) {
      await this.deps.tracker.finish(this.id, {
        status,
        reason,
        counters: this.counters,
        recorder: this.recorder,
      });
    }
    this.log.debug({ sessionId: this.id, status, reason }, 'ssh session ended');
  }
}

function forwardingDisabled(what: string): string {
  return `port forwarding (${what}) is not enabled on this connection (options.ssh.allowPortForwarding)`;
}
