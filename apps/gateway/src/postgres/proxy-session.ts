import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Principal } from '@warden/access';
import type { SessionStatus } from '@warden/db';
import {
  BackendCode,
  BackendSerializer,
  BackendSplitter,
  decodeBackendKeyData,
  decodeErrorResponse,
  decodeParameterStatus,
  ProtocolViolation,
  SqlState,
  type FrontendParser,
} from '@warden/pg-wire';
import { LEXING_PINS, type CatalogFacts, type TargetRoleFacts } from '@warden/policy';
import { decodeMaskedCounts, encodeSessionOpen, SESSION_REPORT, type PostgresTarget } from '@warden/proto';
import type { RecordedDecision } from '@warden/recording';
import type { ReviewService } from '@warden/reviews';
import type { Logger } from '@warden/runtime';
import { latency } from '@warden/runtime/metrics';
import { isTunnelError, type TunnelServer, type TunnelStream } from '@warden/tunnel';
import { endWithGrant } from '../access-window.js';
import type { ConnectionWithAgent } from '../connection-targets.js';
import {
  credentialOf,
  type LiveSession,
  type SessionCounters,
  type SessionCredential,
  type SessionTracker,
} from '../session-tracker.js';
import type { CancelKeys } from './cancel-keys.js';
import type { SessionPolicy } from '../policy-loader.js';
import type { Recordings } from '../recording/recordings.js';
import { recordingOptionsOf } from '../recording/recording-options.js';
import type { OffloadedRecording } from '../recording/offload/recording-offload.js';
import { describeOpenFailure, errorFrame, refuse } from './client-errors.js';
import { ResponsePath } from './response-path.js';
import { ExtendedReviewTracker, type HeldStatement } from './review-hold.js';
import { ReviewGate } from './review-gate.js';
import { allowsPrivilegedTargetWithMasking, SessionFactsReceiver } from './session-facts.js';
import { StatementGuard, type Judged } from './statement-guard.js';
import type { LimitedStatement } from './row-limit.js';
import { LexingWatch, type LexingChange } from './lexing-watch.js';
import { FUNCTION_CALL_REFUSED, FUNCTION_CALL_RULE, GUARDED_FRONTEND_MESSAGES } from './frontend-allow-list.js';

export interface ProxySessionDeps {
  tunnel: TunnelServer;
  tracker: SessionTracker;
  cancelKeys: CancelKeys;
  recordings: Recordings;
  reviews: ReviewService;
  /** Base URL of the API/console, for the approval link a held statement's client is sent. */
  publicUrl: string;
  logger: Logger;
  /** Where the target role a session's agent reports is kept for the API and console (target-roles.ts). */
  targetRoles?: { report(connection: { id: string; name: string }, role: TargetRoleFacts): void };
}

export interface ProxySessionStart {
  socket: Socket;
  parser: FrontendParser;
  tls: boolean;
  principal: Principal;
  connection: ConnectionWithAgent;
  target: PostgresTarget;
  startup: Record<string, string>;
  policy: SessionPolicy;
  /** The access grant that let the client in, when the connection requires one: the session ends with it. */
  grant?: { id: string; endsAt: Date };
}

// Startup parameters that would tell the client who the agent logs in as.
const HIDDEN_PARAMETERS = new Set(['session_authorization']);

/**
 * One client's Postgres session after authentication: opens the tunnel session on
 * the connection's agent, finishes the client's startup with the target's
 * parameters (but the gateway's own cancel key), then relays message batches both
 * ways with backpressure in each direction.
 */
export class PostgresProxySession implements LiveSession {
  id = '';
  readonly identityId: string;
  readonly connectionId: string;
  readonly viaGrant: boolean;
  readonly credential: SessionCredential;
  readonly counters: SessionCounters = { bytesIn: 0, bytesOut: 0, statements: 0, blocked: 0 };
  /** Absent when the connection has no rules: then nothing is parsed beyond framing. */
  private readonly guard: StatementGuard | undefined;
  /** What the agent reported about the target role (guarded sessions): privileges no policy contains. */
  targetRole: TargetRoleFacts | null = null;
  /** The facts report of a guarded session, which must arrive before anything is relayed. */
  private readonly facts = new SessionFactsReceiver();
  /** The target's catalog facts: every policy this session enforces follows indirect function references through them. */
  private catalog: CatalogFacts | null = null;
  private recording: OffloadedRecording | undefined;
  private stream: TunnelStream | null = null;
  private targetKey: { processId: number; secretKey: number } | null = null;
  private releaseCancelKey: (() => void) | null = null;
  private ended = false;
  private cancelGrantEnd: () => void = () => {};
  /** On a guarded session: watches the server's reports of the lexing settings (see LexingWatch). */
  private lexingWatch: LexingWatch | undefined;
  /** Set while a statement waits for approval: nothing after it is read from the client. */
  private holding = false;
  /** Set while a recording stage is overloaded: reading from the client waits for it. */
  private awaitingRecorder = false;
  /** Set while a recording stage is overloaded: reading from the target waits for it. */
  private targetAwaitsRecorder = false;
  /** Aborted when the session ends, so a review held by it is cancelled, not left pending. */
  private readonly lifetime = new AbortController();
  private readonly extended = new ExtendedReviewTracker();
  /** The review wait in progress, so the session's end waits for its cancellation to be written. */
  private pendingHold: Promise<void> | null = null;
  private gate: ReviewGate | undefined;
  private readonly log: Logger;
  /**
   * Whether the client prepared a named statement: those were judged at their Parse under the
   * policy of that moment, so a policy change cannot be applied to them (applyPolicy).
   */
  private preparedNamed = false;
  /** When client statements were forwarded and no response has come back yet; 0 otherwise. */
  private relaySentAt = 0;

  constructor(
    private readonly start: ProxySessionStart,
    private readonly deps: ProxySessionDeps,
  ) {
    this.identityId = start.principal.identityId;
    this.connectionId = start.connection.id;
    this.viaGrant = start.grant !== undefined;
    this.credential = credentialOf(start.principal);
    this.log = deps.logger;
    if (start.policy.policy.guarded) {
      this.guard = new StatementGuard(start.policy.policy, ({ statement, decision }) => {
        this.counters.blocked += 1;
        this.log.info({ sessionId: this.id, rule: decision.rule }, 'statement blocked by policy');
        // One event per blocked statement (not per message): the text is identified by its hash only.
        void deps.tracker.events.emit(
          'statement.blocked',
          {
            identity: { id: start.principal.identityId, name: start.principal.name },
            connection: { id: start.connection.id, name: start.connection.name },
            session: { id: this.id },
          },
          {
            rule: decision.rule,
            message: decision.message,
            statementHash: createHash('sha256').update(statement, 'utf8').digest('hex'),
            statementLength: statement.length,
            column: decision.column ?? null,
          },
        );
      });
      this.counters.masked = this.guard.masked;
    }
  }

  async run(): Promise<void> {
    const { socket, principal, connection } = this.start;
    this.id = await this.deps.tracker.begin({
      identityId: principal.identityId,
      connectionId: connection.id,
      agentId: connection.agent.id,
      protocol: 'postgres',
      clientAddr: socket.remoteAddress,
      clientTls: this.start.tls,
      clientUser: this.start.startup.user,
    });
    this.startRecording();
    this.deps.tracker.register(this);
    this.cancelGrantEnd = endWithGrant(this.start.grant, () =>
      this.terminate('the access window for this connection has ended', 'closed'),
    );
    socket.on('error', () => this.end('closed', 'client connection error'));
    socket.on('close', () => this.end('closed', 'client disconnected'));

    try {
      this.stream = await this.deps.tunnel.openSession(connection.agent.name, {
        type: 'postgres',
        sessionId: this.id,
        config: encodeSessionOpen({
          kind: 'postgres',
          connection: connection.name,
          target: this.start.target,
          startup: this.start.startup,
          // A guarded session reads SQL text as the server does only under the lexing pins.
          ...(this.guard ? { pins: { ...LEXING_PINS } } : {}),
          ...(this.start.policy.masking ? { masking: this.start.policy.masking } : {}),
          ...(this.guard ? { facts: true } : {}),
        }),
      });
    } catch (error) {
      const { code, message } = describeOpenFailure(error, connection);
      refuse(socket, code, message);
      await this.end('failed', message);
      return;
    }
    if (this.ended) {
      // Terminated (killed, gateway shutdown) while the agent was still opening it.
      this.stream.destroy();
      return;
    }
    this.stream.on('error', (error) => this.onTunnelError(error));
    this.stream.on('end', () => this.end('closed', 'target closed the session'));
    // Reports the agent sent while opening (the facts) are delivered here, at once.
    this.stream.onReport((kind, payload) => this.receiveReport(kind, payload));
    if (this.guard && !(await this.admitByFacts())) return;
    await this.completeStartup(this.stream);
  }

  /** The agent's out-of-band reports: facts at the start, masked-cell counts as results flow. */
  private receiveReport(kind: string, payload: Buffer): void {
    if (kind === SESSION_REPORT.facts) {
      this.facts.receive(payload);
    } else if (kind === SESSION_REPORT.masked) {
      try {
        this.guard?.countMasked(decodeMaskedCounts(payload));
      } catch (error) {
        // Counts are for the record only; a malformed report loses them, nothing else.
        this.log.warn({ sessionId: this.id, err: (error as Error).message }, 'unreadable masked-cells report');
      }
    }
    // Other kinds come from a newer agent and mean nothing here.
  }

  /**
   * A guarded session starts only with the target's facts: its policy then follows operators,
   * casts, aggregates and type I/O to the functions they run. It is refused (and nothing relayed)
   * without them, and when it masks columns on a privileged target role without the opt-in.
   */
  private async admitByFacts(): Promise<boolean> {
    const { connection, socket } = this.start;
    const verdict = this.facts.verdict({
      connection: connection.name,
      agent: connection.agent.name,
      masksColumns: (this.start.policy.masking?.columns.length ?? 0) > 0,
      allowPrivileged: allowsPrivilegedTargetWithMasking(connection.options),
    });
    if (verdict.facts) {
      this.targetRole = verdict.facts.role;
      this.deps.targetRoles?.report(connection, verdict.facts.role);
    }
    if (!verdict.admitted) {
      this.log.warn(
        { sessionId: this.id, connection: connection.name, targetRole: this.targetRole, reason: verdict.message },
        'postgres session refused at start',
      );
      refuse(socket, verdict.code, verdict.message);
      await this.end('failed', verdict.message);
      return false;
    }
    this.catalog = verdict.facts.catalog;
    // Sessions reporting the same catalog share one variant (and its decision cache): withCatalog keeps them.
    this.guard?.replacePolicy(this.start.policy.policy.withCatalog(this.catalog));
    return true;
  }

  private startRecording(): void {
    const { principal, connection, socket } = this.start;
    const options = recordingOptionsOf(connection.options);
    if (!options.enabled) return;
    this.recording = this.deps.recordings.beginPostgres(
      this.id,
      {
        protocol: 'postgres',
        principal,
        connection,
        client: { addr: socket.remoteAddress, tls: this.start.tls, user: this.start.startup.user },
      },
      options,
    );
  }

  /** Reads the agent's first messages (target parameters, key, ready) and answers the client. */
  private async completeStartup(stream: TunnelStream): Promise<void> {
    const { socket } = this.start;
    if (this.guard) this.lexingWatch = new LexingWatch();
    const splitter = new BackendSplitter();
    const out: Buffer[] = [BackendSerializer.authenticationOk()];
    const issued = this.deps.cancelKeys.issue(this);
    this.releaseCancelKey = issued.release;
    let ready = false;
    const onData = (chunk: Buffer): void => {
      for (const frame of splitter.split(chunk)) {
        const code = frame[0];
        if (ready) {
          socket.write(frame);
          continue;
        }
        if (code === BackendCode.ParameterStatus) {
          const { name, value } = decodeParameterStatus(frame);
          const change = this.lexingWatch ? LexingWatch.check(name, value) : null;
          if (change) {
            this.endForLexingChange(change, 'failed');
            stream.off('data', onData);
            return;
          }
          out.push(
            HIDDEN_PARAMETERS.has(name)
              ? BackendSerializer.parameterStatus(name, this.start.startup.user ?? '')
              : frame,
          );
        } else if (code === BackendCode.BackendKeyData) {
          this.targetKey = decodeBackendKeyData(frame);
          out.push(BackendSerializer.backendKeyData(issued.processId, issued.secretKey));
        } else if (code === BackendCode.ErrorResponse) {
          const fields = decodeErrorResponse(frame);
          refuse(socket, fields.code, fields.message);
          void this.end('failed', fields.message);
        } else {
          out.push(frame);
          if (code === BackendCode.ReadyForQuery) {
            ready = true;
            stream.off('data', onData);
            socket.write(Buffer.concat(out));
            this.relay(stream);
          }
        }
      }
    };
    stream.on('data', onData);
  }

  private relay(stream: TunnelStream): void {
    const { socket, parser } = this.start;
    const counters = this.counters;

    // Target → client. The tunnel's credit window turns a slow client into a slow
    // target read: when the socket is full we stop reading the stream.
    const recordings = this.recording ? this.deps.recordings : undefined;
    const responses = new ResponsePath(this.guard, this.recording);
    // Statements the guard adds around a write under a row limit go the way the client's go.
    this.guard?.connect({
      send: (frames) => this.send(stream, frames),
      lost: (reason) => this.terminate(reason, 'interrupted'),
    });
    stream.on('data', (chunk: Buffer) => {
      counters.bytesOut += chunk.length;
      if (this.relaySentAt !== 0) {
        latency.relay.observe((performance.now() - this.relaySentAt) / 1000);
        this.relaySentAt = 0;
      }
      // Checked before anything of the chunk reaches the client: a lexing setting changed means
      // the policy no longer reads statements as the server does.
      const change = this.lexingWatch?.push(chunk);
      if (change) {
        this.endForLexingChange(change, 'interrupted');
        return;
      }
      let full = false;
      let pieces: Buffer[];
      try {
        pieces = responses.process(chunk);
      } catch (error) {
        const message = `invalid data from the target: ${(error as Error).message}`;
        refuse(socket, SqlState.PROTOCOL_VIOLATION, message);
        void this.end('interrupted', message);
        return;
      }
      for (const piece of pieces) full = !socket.write(piece) || full;
      if (full) {
        stream.pause();
        socket.once('drain', () => stream.resume());
      }
      // A recording stage is far behind (a huge result outruns the worker, the database is away):
      // the target's reads wait for it, as they wait for a slow client.
      if (recordings?.overloaded && !this.targetAwaitsRecorder) {
        this.targetAwaitsRecorder = true;
        stream.pause();
        void recordings.whenRelieved().then(() => {
          this.targetAwaitsRecorder = false;
          if (!this.ended) stream.resume();
        });
      }
    });

    // Client → target, one batch per socket read, whole messages only.
    const forward = (chunk: Buffer): void => {
      counters.bytesIn += chunk.length;
      parser.push(chunk);
      this.drainClientMessages(stream);
      // The recording's backlog is full (its database is slow or away): the client waits rather
      // than its statements running unrecorded or the backlog growing without bound.
      if (recordings?.overloaded && !this.awaitingRecorder) {
        this.awaitingRecorder = true;
        socket.pause();
        void recordings.whenRelieved().then(() => {
          this.awaitingRecorder = false;
          this.resumeClient();
        });
      }
    };
    socket.on('data', forward);
    this.drainClientMessages(stream);
    // Paused since the handshake released it; what the client sent meanwhile is read now.
    socket.resume();
  }

  private drainClientMessages(stream: TunnelStream): void {
    // Once ended (a refused message among others), what the client still sends is not read: its
    // parser would throw its violation again, and a second refusal on the ended socket reset it.
    if (this.holding || this.ended) return;
    const { socket, parser } = this.start;
    const frames: Buffer[] = [];
    const recording = this.recording;
    let terminate = false;
    let held: HeldStatement | null = null;
    let limited: LimitedStatement | null = null;
    try {
      for (let message = parser.read(); message; message = parser.read()) {
        switch (message.kind) {
          case 'terminate':
            terminate = true;
            break;
          case 'query': {
            this.counters.statements += 1;
            const judged = this.guard?.query(message);
            const seq = recording?.client(message.frame, recordedDecision(judged), judged?.review !== undefined);
            if (judged?.review) {
              held = { kind: 'query', text: message.text, params: [], review: judged.review, frame: message.frame };
              held.seq = seq;
            } else if (judged?.rowLimit) {
              // Runs alone under its max_rows_affected rule; nothing after it is read until it is settled.
              limited = { kind: 'query', frame: message.frame, text: message.text, rowLimit: judged.rowLimit };
            } else frames.push(judged ? judged.frame : message.frame);
            break;
          }
          case 'parse': {
            if (message.name) this.preparedNamed = true;
            const judged = this.guard?.parse(message);
            let frame = judged ? judged.frame : message.frame;
            if (judged) {
              this.extended.parse(message, judged.review);
              const rowLimit = judged.rowLimit ?? undefined;
              if (!this.guard!.rowLimits.names.parse(message.name, message.query, rowLimit)) {
                frame = this.refuseUntracked('prepared statements');
              }
            }
            frames.push(frame);
            recording?.client(message.frame, recordedDecision(judged));
            break;
          }
          case 'bind': {
            let frame = message.frame;
            if (this.guard) {
              this.extended.bind(message);
              if (!this.guard.rowLimits.names.bind(message.portal, message.statement)) {
                frame = this.refuseUntracked('portals');
              }
            }
            recording?.client(message.frame);
            frames.push(frame);
            break;
          }
          case 'execute': {
            this.counters.statements += 1;
            held = this.guard ? this.extended.atExecute(message.portal, message.frame) : null;
            const seq = recording?.client(message.frame, undefined, held !== null);
            const limit = held ? undefined : this.guard?.rowLimits.names.at(message.portal);
            if (held) held.seq = seq;
            else if (limit) limited = { kind: 'execute', frame: message.frame, ...limit };
            else frames.push(message.frame);
            break;
          }
          case 'functionCall':
            this.counters.statements += 1;
            if (this.guard) {
              // Calls a function by OID with no SQL text to judge or mask: refused in its place in
              // the pipeline (a poison Query answers ErrorResponse + ReadyForQuery, as a failed call).
              const decision = { action: 'block', rule: FUNCTION_CALL_RULE, message: FUNCTION_CALL_REFUSED } as const;
              recording?.client(message.frame, decision);
              frames.push(this.guard.block(`FunctionCall (function OID ${message.functionOid})`, decision));
            } else {
              recording?.client(message.frame);
              frames.push(message.frame);
            }
            break;
          case 'sync':
            recording?.client(message.frame);
            frames.push(message.frame);
            break;
          case 'close':
            this.extended.close(message.target, message.name);
            recording?.client(message.frame);
            frames.push(message.frame);
            break;
          case 'copyData':
            recording?.client(message.frame);
            frames.push(message.frame);
            break;
          default:
            // A guarded session relays only the messages it can judge (GUARDED_FRONTEND_MESSAGES).
            if (this.guard && !GUARDED_FRONTEND_MESSAGES.has(message.kind)) {
              throw new ProtocolViolation(`unexpected ${message.kind} message on a guarded connection`);
            }
            frames.push(message.frame);
        }
        if (terminate || held || limited) break;
      }
    } catch (error) {
      // Malformed input ends this client only; nothing else is affected.
      const code = (error as { code?: string }).code ?? SqlState.PROTOCOL_VIOLATION;
      if (frames.length) stream.write(Buffer.concat(frames));
      refuse(socket, code, (error as Error).message);
      void this.end('closed', `protocol violation: ${(error as Error).message}`);
      return;
    }
    this.send(stream, frames);
    if (held) this.pendingHold = this.hold(stream, held);
    if (limited) void this.runLimited(limited);
    if (terminate) void this.end('closed', 'client terminated');
  }

  /**
   * Runs one write under its max_rows_affected rule (RowLimitEnforcer): reading from the client
   * stops until its row count is read and the write kept or refused, then goes on.
   */
  private async runLimited(statement: LimitedStatement): Promise<void> {
    this.holding = true;
    this.start.socket.pause();
    await this.guard!.rowLimits.start(statement);
    if (this.ended) return;
    this.holding = false;
    this.drainClientMessages(this.stream!);
    this.resumeClient();
  }

  /** In place of a Parse or Bind of a limited statement the session cannot keep track of: a refusal. */
  private refuseUntracked(what: string): Buffer {
    this.counters.blocked += 1;
    return this.guard!.refuse(
      'execute',
      `this session holds too many ${what} under a max_rows_affected rule; close some first (fail closed)`,
    );
  }

  /** Forwards client frames as one batch; a full tunnel window pauses the client. */
  private send(stream: TunnelStream, frames: Buffer[]): void {
    if (!frames.length) return;
    this.guard?.rowLimits.noteSent(frames);
    // The relay latency: from the first batch sent to the first response bytes (see relay()).
    if (this.relaySentAt === 0) this.relaySentAt = performance.now();
    const batch = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    // Large messages hold the gateway's buffer budget until they have gone into the tunnel.
    if (!stream.write(batch, this.start.parser.handOff())) {
      this.start.socket.pause();
      stream.once('drain', () => this.resumeClient());
    }
  }

  /**
   * Holds a statement until its review is decided: the client simply waits (it was
   * sent a NOTICE with the review's link), reading from it stops, and the statement
   * then runs, or fails with 42501 naming the decision. The server sees nothing of it
   * meanwhile, so earlier statements' results keep flowing.
   */
  /** Reads from the client again unless a review hold or the recording's backlog still stops it. */
  private resumeClient(): void {
    if (!this.holding && !this.awaitingRecorder && !this.ended) this.start.socket.resume();
  }

  private async hold(stream: TunnelStream, held: HeldStatement): Promise<void> {
    this.holding = true;
    this.start.socket.pause();
    let frame: Buffer;
    try {
      frame = await this.reviewGate().decide(held);
    } catch (err) {
      this.log.error({ err, sessionId: this.id }, 'could not hold the statement for review');
      this.counters.blocked += 1;
      frame = this.guard!.refuse(held.kind, 'the statement needs a review, which could not be requested; refused');
    }
    if (this.ended) return;
    this.holding = false;
    // Approved, it runs as an allowed statement would: under its row limit when it has one.
    const rowLimit = frame === held.frame ? held.review.rowLimit : undefined;
    if (rowLimit) {
      await this.runLimited({ kind: held.kind, frame, text: held.text, rowLimit });
      return;
    }
    this.send(stream, [frame]);
    this.drainClientMessages(stream);
    this.resumeClient();
  }

  /** The session's ReviewGate, made at its first held statement (id and recorder are set by then). */
  private reviewGate(): ReviewGate {
    const guard = this.guard!;
    this.gate ??= new ReviewGate(this.deps.reviews, this.deps.publicUrl, {
      id: this.id,
      identityId: this.identityId,
      connectionId: this.connectionId,
      counters: this.counters,
      recorder: this.recording,
      guard,
      notifyClient: (frame) => this.start.socket.write(frame),
      lifetime: this.lifetime.signal,
    });
    return this.gate;
  }

  private onTunnelError(error: Error): void {
    if (this.ended) return;
    const message =
      isTunnelError(error, 'AGENT_DISCONNECTED') || isTunnelError(error, 'SHUTDOWN')
        ? `lost the connection to agent "${this.start.connection.agent.name}"`
        : 'the session to the target ended unexpectedly';
    refuse(this.start.socket, SqlState.CONNECTION_FAILURE, message);
    void this.end('interrupted', message);
  }

  /** Forwards the client's cancel to the target backend through the agent. */
  async cancel(): Promise<void> {
    if (!this.targetKey || this.ended) return;
    const cancelStream = await this.deps.tunnel.openSession(this.start.connection.agent.name, {
      type: 'postgres-cancel',
      config: encodeSessionOpen({ kind: 'postgres-cancel', target: this.start.target, ...this.targetKey }),
    });
    cancelStream.resume();
    cancelStream.end();
  }

  /**
   * Switches to the connection's changed policies from the next statement on. The session ends
   * instead (57P01, the client reconnects under the new policies) when switching in place would
   * leave a gap: the masking plan lives at the agent for the session's life, an unguarded session
   * parses nothing it could judge, and named prepared statements were judged when prepared.
   */
  applyPolicy(next: SessionPolicy): void {
    if (this.ended) return;
    const current = this.start.policy;
    if (current.policy.version === next.policy.version) return;
    const maskingChanged = JSON.stringify(current.masking ?? null) !== JSON.stringify(next.masking ?? null);
    const cannotSwitch = maskingChanged || (!this.guard && next.policy.guarded) || (this.guard && this.preparedNamed);
    if (cannotSwitch) {
      this.log.info({ sessionId: this.id, policies: next.names }, 'policies changed: ending the session');
      this.terminate('the connection’s policies changed; reconnect to continue under them', 'killed');
      return;
    }
    this.guard?.replacePolicy(this.catalog ? next.policy.withCatalog(this.catalog) : next.policy);
    this.start.policy = next;
  }

  /** The server reported a pinned lexing setting with another value: the session ends at once. */
  private endForLexingChange(change: LexingChange, status: SessionStatus): void {
    if (this.ended) return;
    const reason = `the target reported ${change.name} = "${change.value}", which the connection's policy pins to ${LEXING_PINS[change.name] ?? 'a fixed value'}; session ended`;
    this.log.warn(
      { sessionId: this.id, setting: change.name, value: change.value },
      'lexing setting changed on the target',
    );
    this.start.socket.end(errorFrame(SqlState.PROTOCOL_VIOLATION, reason, { fatal: true }));
    void this.end(status, reason);
  }

  terminate(reason: string, status: SessionStatus): void {
    if (this.ended) return;
    // Ended on purpose (kill, containment, end of an access window): 57P01, as a
    // server's administrator would; anything else is a connection failure.
    const code = status === 'interrupted' ? SqlState.CONNECTION_FAILURE : SqlState.ADMIN_SHUTDOWN;
    this.start.socket.end(errorFrame(code, reason, { fatal: true }));
    void this.end(status, reason);
  }

  private async end(status: SessionStatus, reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.cancelGrantEnd();
    this.lifetime.abort();
    this.releaseCancelKey?.();
    this.stream?.destroy();
    if (!this.start.socket.destroyed) this.start.socket.end();
    if (this.id) {
      await this.deps.tracker.finish(this.id, {
        status,
        reason,
        counters: this.counters,
        recorder: this.recording,
        ...(this.pendingHold ? { settle: this.pendingHold } : {}),
      });
    }
    this.log.debug({ sessionId: this.id, status, reason }, 'postgres session ended');
  }
}

function recordedDecision(judged: Judged | undefined): RecordedDecision {
  if (judged?.blocked) return { action: 'block', rule: judged.blocked.rule, message: judged.blocked.message };
  if (judged?.review) return { action: 'review', rule: judged.review.rule };
  return { action: 'allow' };
}
