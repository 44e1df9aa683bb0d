import type { AddressInfo } from 'node:net';
import { createControlBus, type ControlBus } from '@warden/control-bus';
import type { PrismaClient, RawExecute } from '@warden/db';
import { ReviewService } from '@warden/reviews';
import { LoginThrottle } from '@warden/access';
import { messageFirst, type Logger, type SecretBox, type WardenConfig } from '@warden/runtime';
import { registerAgentSource, registerBusSource } from '@warden/runtime/metrics';
import { TunnelServer } from '@warden/tunnel';
import { AgentDirectory } from './agent-directory.js';
import { Containment } from './containment.js';
import { ConnectionTargets } from './connection-targets.js';
import { ClientLimits } from './client-limits.js';
import { GatewayPresence } from './gateway-presence.js';
import { PolicyLoader } from './policy-loader.js';
import { PolicyRefresh } from './policy-refresh.js';
import { PostgresListener } from './postgres/listener.js';
import type { ProtocolListener } from './protocol-listener.js';
import { Recordings } from './recording/recordings.js';
import { SessionTracker } from './session-tracker.js';
import { loadHostKey } from './ssh/host-key.js';
import { SshListener } from './ssh/listener.js';
import { loadTlsIdentity } from './tls-identity.js';

export interface GatewayOptions {
  prisma: PrismaClient;
  /** Bulk writes without Prisma (Database.execute); defaults to prisma.$executeRawUnsafe. */
  execute?: RawExecute;
  secretBox: SecretBox;
  config: WardenConfig;
  logger: Logger;
  /**
   * The control bus shared with the API (kills, containment, review decisions). When
   * absent the gateway opens its own: Redis when REDIS_URL is set, else in-process.
   */
  bus?: ControlBus;
}

export interface GatewayAddresses {
  grpc: number;
  postgres: AddressInfo;
  ssh: AddressInfo;
  /** The SSH host key's fingerprint (`SHA256:...`), for clients' known_hosts. */
  sshHostKeyFingerprint: string;
}

/**
 * The data-path process: the gRPC endpoint agents dial into and the client-facing
 * protocol listeners, sharing one session tracker.
 */
export class Gateway {
  readonly tunnel: TunnelServer;
  readonly sessions: SessionTracker;
  readonly recordings: Recordings;
  private readonly agents: AgentDirectory;
  private listeners: ProtocolListener[] = [];
  private limits: ClientLimits | undefined;
  private bus: ControlBus | undefined;
  private ownsBus = false;
  private containment: Containment | undefined;
  private policyRefresh: PolicyRefresh | undefined;
  private unregisterAgentMetrics: () => void = () => {};
  private stopPresence: () => void = () => {};
  private presence: GatewayPresence | undefined;

  constructor(private readonly options: GatewayOptions) {
    const { prisma, config, logger } = options;
    this.agents = new AgentDirectory(prisma, config.gatewayId, logger, config.agentPresenceIntervalMs);
    this.sessions = new SessionTracker(prisma, config.gatewayId, logger);
    const execute: RawExecute =
      options.execute ??
      (async (sql, params) => {
        await prisma.$executeRawUnsafe(sql, ...params);
      });
    this.recordings = new Recordings(prisma, execute, options.secretBox, logger.child({ component: 'recording' }), {
      inThread: !config.recordingWorker,
    });
    const tunnelLog = logger.child({ component: 'tunnel' });
    this.tunnel = new TunnelServer({
      host: config.grpc.host,
      port: config.grpc.port,
      gatewayId: config.gatewayId,
      authenticateAgent: (key) => this.agents.authenticate(key),
      onAgentConnected: async (agent) => {
        // The tunnel server logs 'agent connected' (with the stream count); one line per connection.
        await this.agents.markOnline(agent.agentId, { version: agent.agentVersion, hostname: agent.hostname });
        this.agents.announceConnected(agent);
      },
      onAgentDisconnected: async (agent, info) => {
        if (info.remainingConnections === 0) await this.agents.markOffline(agent.agentId);
        this.agents.announceDisconnected(agent, info);
      },
      logger: messageFirst(tunnelLog),
    });
  }

  async start(): Promise<GatewayAddresses> {
    const { prisma, secretBox, config, logger } = this.options;
    // First: a gateway still running under this id must find its agents and sessions untouched.
    this.presence = new GatewayPresence({
      prisma,
      gatewayId: config.gatewayId,
      intervalMs: config.gatewayPresenceIntervalMs,
      agentPresenceIntervalMs: config.agentPresenceIntervalMs,
      sessions: this.sessions,
      recordings: this.recordings,
      logger: logger.child({ component: 'presence' }),
    });
    await this.presence.claim();
    await this.agents.resetStale();
    await this.recordings.publishKey();
    this.bus = this.options.bus;
    if (!this.bus) {
      this.bus = await createControlBus({
        redisUrl: config.redisUrl,
        prefix: `${config.redisPrefix}:bus:`,
        logger: logger.child({ component: 'control-bus' }),
      });
      this.ownsBus = true;
    }
    this.observe(this.bus);
    const reviews = new ReviewService(prisma, this.bus, {
      actor: `gateway:${config.gatewayId}`,
      logger: logger.child({ component: 'reviews' }),
    });
    // Ends the sessions a previous run under this id left open, then those of replicas that went away.
    await this.presence.start((sessionIds, restarted) =>
      reviews.cancelPending(
        { sessionIds },
        restarted ? 'the gateway holding the statement restarted' : 'the gateway holding the statement went away',
      ),
    );
    this.containment = new Containment(
      this.bus,
      this.sessions,
      this.tunnel,
      logger.child({ component: 'containment' }),
      { prisma, reconcileMs: config.containmentReconcileMs },
    );
    await this.containment.start();
    // One loader for every listener: a compiled policy (and its decision cache) is shared by all
    // sessions on the same policy versions.
    const policies = new PolicyLoader(prisma, secretBox);
    this.policyRefresh = new PolicyRefresh(this.bus, this.sessions, policies, logger.child({ component: 'policy' }));
    this.policyRefresh.start();
    const grpc = await this.tunnel.listen();
    this.stopPresence = this.agents.keepPresence(() => this.tunnel.listAgents().map((agent) => agent.agentId));
    const tls = await loadTlsIdentity({
      dataDir: config.dataDir,
      certFile: config.tlsCertFile,
      keyFile: config.tlsKeyFile,
    });
    // One count for both listeners: a client guessing tokens gains nothing by switching protocol.
    const logins = new LoginThrottle({ maxFailures: config.loginMaxFailures, lockoutMs: config.loginLockoutMs });
    // One count of client sockets and one budget of buffered messages across both listeners.
    const limits = new ClientLimits(config);
    this.limits = limits;
    const postgres = new PostgresListener({
      address: config.postgres,
      prisma,
      targets: new ConnectionTargets(prisma, secretBox),
      tunnel: this.tunnel,
      tracker: this.sessions,
      recordings: this.recordings,
      reviews,
      publicUrl: config.publicUrl,
      tls,
      policies,
      logins,
      limits,
      logger: logger.child({ component: 'postgres' }),
    });
    this.listeners.push(postgres);
    const hostKey = await loadHostKey(prisma, secretBox);
    const ssh = new SshListener({
      address: config.ssh,
      prisma,
      hostKey,
      targets: new ConnectionTargets(prisma, secretBox),
      tunnel: this.tunnel,
      tracker: this.sessions,
      recordings: this.recordings,
      reviews,
      policies,
      publicUrl: config.publicUrl,
      logins,
      limits,
      logger: logger.child({ component: 'ssh' }),
    });
    this.listeners.push(ssh);
    return {
      grpc,
      postgres: await postgres.listen(),
      ssh: await ssh.listen(),
      sshHostKeyFingerprint: hostKey.fingerprint,
    };
  }

  /** Events announce themselves on the bus; metrics read the tunnel's agents at scrape time. */
  private observe(bus: ControlBus): void {
    this.sessions.events.useBus(bus);
    this.agents.events.useBus(bus);
    const unregisterBus = registerBusSource(() => bus.health().up);
    const unregisterAgents = registerAgentSource(() => {
      const streams: Record<string, number> = {};
      for (const agent of this.tunnel.listAgents()) streams[agent.agentName] = (streams[agent.agentName] ?? 0) + 1;
      return streams;
    });
    this.unregisterAgentMetrics = () => {
      unregisterAgents();
      unregisterBus();
    };
  }

  async stop(): Promise<void> {
    this.containment?.stop();
    this.policyRefresh?.stop();
    await this.sessions.terminateAll('the gateway is shutting down');
    await this.presence?.stop();
    this.unregisterAgentMetrics();
    this.stopPresence();
    this.sessions.close();
    await Promise.all(this.listeners.map((l) => l.close()));
    this.limits?.close();
    await this.recordings.close();
    if (this.ownsBus) await this.bus?.close();
    await this.tunnel.close();
    // The disconnect hooks' status writes are not awaited by the tunnel; make sure the
    // agents this gateway served do not stay "online" in the control plane.
    await this.agents.resetStale();
    await Promise.all([this.sessions.events.flush(), this.agents.events.flush()]);
  }
}
