import net, { type AddressInfo, type Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { isControlPlaneUnavailable, type PrismaClient } from '@warden/db';
import { SqlState } from '@warden/pg-wire';
import type { LoginThrottle } from '@warden/access';
import type { ListenAddress, Logger } from '@warden/runtime';
import type { TunnelServer } from '@warden/tunnel';
import { clientLimitMetrics } from '@warden/runtime/metrics';
import { ClientLimits, closeOnceEnded, REFUSAL_TIMEOUT_MS } from '../client-limits.js';
import type { ConnectionTargets } from '../connection-targets.js';
import type { PolicyLoader } from '../policy-loader.js';
import type { ProtocolListener } from '../protocol-listener.js';
import type { ReviewService } from '@warden/reviews';
import type { Recordings } from '../recording/recordings.js';
import type { SessionTracker } from '../session-tracker.js';
import { TargetRoles } from '../target-roles.js';
import { CancelKeys } from './cancel-keys.js';
import { CONTROL_PLANE_UNAVAILABLE, internalFailure, refuse } from './client-errors.js';
import { ClientChannel, StartupTimeout } from './client-channel.js';
import { clientHandshake, startupToRefuse, type HandshakeDeps } from './client-handshake.js';
import { PostgresProxySession } from './proxy-session.js';
import { judgeStartupParameters } from './startup-parameters.js';

export interface PostgresListenerDeps {
  address: ListenAddress;
  prisma: PrismaClient;
  targets: ConnectionTargets;
  tunnel: TunnelServer;
  tracker: SessionTracker;
  recordings: Recordings;
  reviews: ReviewService;
  publicUrl: string;
  tls: SecureContextOptions;
  policies: PolicyLoader;
  logins: LoginThrottle;
  logger: Logger;
  /**
   * Connection caps, the buffer budget and the startup timeout, shared with the SSH listener;
   * default: the process's own, from its configuration (ClientLimits.shared()).
   */
  limits?: ClientLimits;
}

/** The gateway's Postgres port: psql, pgbench and any driver connect here. */
export class PostgresListener implements ProtocolListener {
  readonly protocol = 'postgres';
  private readonly server = net.createServer({ noDelay: true }, (socket) => void this.accept(socket));
  private readonly cancelKeys = new CancelKeys();
  private readonly targetRoles: TargetRoles;
  private readonly sockets = new Set<Socket>();
  private readonly limits: ClientLimits;
  private readonly handshake: HandshakeDeps;

  constructor(private readonly deps: PostgresListenerDeps) {
    this.targetRoles = new TargetRoles(deps.prisma, deps.logger);
    this.limits = deps.limits ?? ClientLimits.shared();
    this.handshake = {
      prisma: deps.prisma,
      targets: deps.targets,
      tls: deps.tls,
      logins: deps.logins,
      startupTimeoutMs: this.limits.startupTimeoutMs,
    };
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.deps.address.port, this.deps.address.host, () =>
        resolve(this.server.address() as AddressInfo),
      );
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    // Whatever ends the connection on our side (a refusal, a timeout, the session's end) also
    // closes the descriptor, whether or not the client ever closes its side.
    closeOnceEnded(socket);
    const admission = this.limits.admit('postgres', socket.remoteAddress, this.deps.logger);
    if (admission.kind === 'dropped') {
      socket.destroy();
      return;
    }
    socket.once('close', admission.release);
    if (admission.kind === 'refused') void this.refuseOverCap(socket, admission.message);
    else void this.serve(socket);
  }

  /**
   * A client past a connection cap: FATAL 53300 once its startup packet is in (after TLS, when it
   * asks), as the server answers past max_connections; closed without a word if it sends nothing
   * usable within REFUSAL_TIMEOUT_MS. Its cancel requests still go through.
   */
  private async refuseOverCap(socket: Socket, message: string): Promise<void> {
    const channel = new ClientChannel(socket);
    try {
      const outcome = await startupToRefuse(
        channel,
        this.deps.tls,
        Math.min(REFUSAL_TIMEOUT_MS, this.limits.startupTimeoutMs),
      );
      if (outcome.kind === 'startup') {
        refuse(channel.socket, SqlState.TOO_MANY_CONNECTIONS, message);
        return;
      }
      socket.destroy();
      if (outcome.kind === 'cancel') await this.cancelKeys.find(outcome.processId, outcome.secretKey)?.cancel();
    } catch (error) {
      this.deps.logger.debug({ client: socket.remoteAddress, err: (error as Error).message }, 'refused client dropped');
      channel.socket.destroy();
      socket.destroy();
    }
  }

  private async serve(socket: Socket): Promise<void> {
    const log = this.deps.logger;
    // Refusals go through the channel's socket: after an SSLRequest that is the TLS
    // socket, and an ErrorResponse written to the raw one would reach the client as
    // bytes that break its TLS layer ("wrong version number") instead of the error.
    const channel = new ClientChannel(socket, this.limits.budget);
    // What the connection holds of the buffer budget goes back when it closes (TLS or not: the
    // raw socket closes with it).
    socket.once('close', () => channel.parser.dispose());
    // Who and what, for the log line of a failure past the handshake.
    let context: Record<string, unknown> = { client: socket.remoteAddress };
    try {
      const outcome = await clientHandshake(channel, this.handshake);
      if (outcome.kind === 'cancel') {
        socket.destroy();
        await this.cancelKeys.find(outcome.processId, outcome.secretKey)?.cancel();
        return;
      }
      if (outcome.kind === 'quit') {
        log.debug({ client: socket.remoteAddress }, 'postgres client left before its startup packet');
        channel.socket.end();
        return;
      }
      if (outcome.kind === 'refused') {
        log.info(
          {
            client: socket.remoteAddress,
            code: outcome.code,
            reason: outcome.message,
            authFailure: outcome.authFailure,
          },
          'postgres client refused',
        );
        refuse(channel.socket, outcome.code, outcome.message, outcome.hint);
        return;
      }
      context = { ...context, identity: outcome.principal.name, connection: outcome.connection.name };
      // Fail closed: without the connection's policy nothing is relayed.
      let policy;
      try {
        policy = await this.deps.policies.forConnection(outcome.connection.id);
      } catch (error) {
        log.error({ err: (error as Error).message, connection: outcome.connection.name }, 'policy could not be loaded');
        if (isControlPlaneUnavailable(error)) {
          refuse(channel.socket, CONTROL_PLANE_UNAVAILABLE.code, CONTROL_PLANE_UNAVAILABLE.message);
          return;
        }
        refuse(
          channel.socket,
          SqlState.INTERNAL_ERROR,
          `the policy of connection "${outcome.connection.name}" could not be loaded; refusing (fail closed)`,
        );
        return;
      }
      // On a guarded connection every startup setting is judged before the session opens: the
      // lexing pins hold, and no setting is made that the policy would refuse as a statement.
      const startupRefusal = policy.policy.guarded ? judgeStartupParameters(outcome.startup, policy.policy) : null;
      if (startupRefusal) {
        log.info(
          { client: socket.remoteAddress, connection: outcome.connection.name, reason: startupRefusal.message },
          'postgres startup parameters refused',
        );
        refuse(channel.socket, startupRefusal.code, startupRefusal.message, startupRefusal.hint);
        return;
      }
      const session = new PostgresProxySession(
        {
          socket: outcome.channel.release(),
          parser: outcome.channel.parser,
          tls: outcome.channel.tls,
          principal: outcome.principal,
          connection: outcome.connection,
          target: this.deps.targets.postgres(outcome.connection),
          startup: outcome.startup,
          policy,
          ...(outcome.grant ? { grant: outcome.grant } : {}),
        },
        {
          tunnel: this.deps.tunnel,
          tracker: this.deps.tracker,
          cancelKeys: this.cancelKeys,
          recordings: this.deps.recordings,
          reviews: this.deps.reviews,
          publicUrl: this.deps.publicUrl,
          targetRoles: this.targetRoles,
          logger: log,
        },
      );
      await session.run();
    } catch (error) {
      const internal = internalFailure(error);
      if (internal) {
        log.error({ ...context, err: error }, `postgres client refused: ${internal.message}`);
        refuse(channel.socket, internal.code, internal.message);
        return;
      }
      const code = (error as { code?: string }).code;
      if (error instanceof StartupTimeout) clientLimitMetrics.startupTimeouts.inc({ protocol: 'postgres' });
      log.info(
        { client: socket.remoteAddress, err: (error as Error).message },
        'postgres client dropped during startup',
      );
      refuse(
        channel.socket,
        code && /^[0-9A-Z]{5}$/.test(code) ? code : SqlState.PROTOCOL_VIOLATION,
        (error as Error).message,
      );
    }
  }
}
