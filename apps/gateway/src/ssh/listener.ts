import net, { type AddressInfo, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection as SshConnection, ServerChannel } from 'ssh2';
import type { LoginThrottle, Principal } from '@warden/access';
import { isControlPlaneUnavailable, type PrismaClient } from '@warden/db';
import { ShellPolicy, type CompiledPolicy, type Decision } from '@warden/policy';
import type { ReviewService } from '@warden/reviews';
import type { ListenAddress, Logger } from '@warden/runtime';
import type { TunnelServer } from '@warden/tunnel';
import { clientLimitMetrics } from '@warden/runtime/metrics';
import { ClientLimits, closeOnceEnded, REFUSAL_TIMEOUT_MS } from '../client-limits.js';
import type { ConnectionTargets } from '../connection-targets.js';
import type { PolicyLoader } from '../policy-loader.js';
import type { ProtocolListener } from '../protocol-listener.js';
import type { Recordings } from '../recording/recordings.js';
import type { SessionTracker } from '../session-tracker.js';
import {
  authenticateWithKey,
  authenticateWithToken,
  authorizeConnection,
  type SshAuthOutcome,
} from './authenticate.js';
import type { GatewayHostKey } from './host-key.js';
import { sshOptionsOf, sshTarget } from './options.js';
import { SessionRequests } from './session-requests.js';
import { SshGatewaySession } from './ssh-session.js';

/**
 * Ciphers Node's own crypto runs (AES-GCM, AES-CTR). ssh2 does chacha20-poly1305 in
 * JavaScript when its optional native module is not built; clients that prefer
 * chacha20 (OpenSSH) settle on AES instead.
 */
const NATIVE_CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
] as const;
const METHODS: AuthContext['method'][] = ['publickey', 'password', 'keyboard-interactive'];
/** What a client is told when the control-plane database cannot be used (the log has the cause). */
const UNAVAILABLE = 'the access service is unavailable; try again shortly';

export interface SshListenerDeps {
  address: ListenAddress;
  prisma: PrismaClient;
  hostKey: GatewayHostKey;
  targets: ConnectionTargets;
  tunnel: TunnelServer;
  tracker: SessionTracker;
  recordings: Recordings;
  reviews: ReviewService;
  policies: PolicyLoader;
  publicUrl: string;
  /** Failed token logins per client address (shared with the Postgres listener); keys are not counted. */
  logins: LoginThrottle;
  logger: Logger;
  /**
   * Connection caps and the startup timeout, shared with the Postgres listener; default: the
   * process's own, from its configuration (ClientLimits.shared()).
   */
  limits?: ClientLimits;
}

/**
 * The gateway's SSH port: `ssh <connection>@gateway` or `ssh <identity>+<connection>@gateway`,
 * authenticated by the caller's Warden token as the password (or keyboard-interactive
 * answer), or by a public key registered to the identity. Authorization is the
 * Postgres listener's: canUseConnection, then an access grant when the connection needs one.
 */
export class SshListener implements ProtocolListener {
  readonly protocol = 'ssh';
  private readonly server: ssh2.Server;
  /** Accepts the sockets (ssh2 only sees admitted ones: injectSocket), so that they can be counted. */
  private readonly tcp = net.createServer((socket) => this.acceptSocket(socket));
  private readonly clients = new Set<SshConnection>();
  /** Admitted sockets not authenticated yet, by `address|port`: their timer, their client once it exists. */
  private readonly handshakes = new Map<string, { timer: NodeJS.Timeout; client?: SshConnection }>();
  private readonly sockets = new Set<Socket>();
  private readonly limits: ClientLimits;
  /** Shell-policy view of each compiled policy (they are cached per version by the loader). */
  private readonly shellPolicies = new WeakMap<CompiledPolicy<Decision>, ShellPolicy>();

  constructor(private readonly deps: SshListenerDeps) {
    this.server = new ssh2.Server(
      { hostKeys: [deps.hostKey.privateKey], ident: 'Warden', algorithms: { cipher: [...NATIVE_CIPHERS] } },
      (client, info) => this.accept(client, info.ip, info.port),
    );
    this.limits = deps.limits ?? ClientLimits.shared();
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.deps.address.port, this.deps.address.host, () => resolve(this.tcp.address() as AddressInfo));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.tcp.close(() => resolve());
      for (const client of this.clients) client.end();
      // Sockets still in their handshake (some without a client yet: no SSH version sent) go outright.
      for (const socket of this.sockets) if (this.handshakes.has(handshakeKey(socket))) socket.destroy();
    });
  }

  /**
   * Counts the socket against the connection caps, and gives it WARDEN_CLIENT_STARTUP_TIMEOUT_MS to
   * authenticate (from connecting: a client that never sends its version is closed too). Past a
   * cap, the client is sent an SSH disconnect (too many connections) saying which.
   */
  private acceptSocket(socket: Socket): void {
    socket.on('error', () => {});
    const admission = this.limits.admit('ssh', socket.remoteAddress, this.deps.logger);
    if (admission.kind === 'dropped') {
      socket.destroy();
      return;
    }
    if (admission.kind === 'refused') {
      refuseOverCap(socket, admission.message);
      socket.once('close', admission.release);
      return;
    }
    this.sockets.add(socket);
    // Once our side ends (a disconnect, the timeout), the descriptor goes, whether or not the client closes.
    closeOnceEnded(socket);
    const key = handshakeKey(socket);
    const timer = setTimeout(() => {
      clientLimitMetrics.startupTimeouts.inc({ protocol: 'ssh' });
      this.deps.logger.info({ client: socket.remoteAddress }, 'ssh client did not authenticate in time');
      // A client that sent its version is told (a disconnect); either way the socket goes.
      this.handshakes.get(key)?.client?.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    }, this.limits.startupTimeoutMs);
    this.handshakes.set(key, { timer });
    socket.once('close', () => {
      clearTimeout(timer);
      this.handshakes.delete(key);
      this.sockets.delete(socket);
      admission.release();
    });
    this.server.injectSocket(socket);
  }

  private accept(client: SshConnection, clientAddr: string | undefined, clientPort: number | undefined): void {
    this.clients.add(client);
    const log = this.deps.logger;
    let principal: Principal | undefined;
    let username = '';
    const key = `${clientAddr}|${clientPort}`;
    const handshake = this.handshakes.get(key);
    if (handshake) handshake.client = client;
    client.on('error', (err) => log.debug({ client: clientAddr, err: err.message }, 'ssh client error'));
    client.on('close', () => {
      this.clients.delete(client);
    });
    client.on('authentication', (ctx) => {
      void this.authenticate(ctx, clientAddr).then(
        (outcome) => {
          if (outcome.kind === 'accepted') {
            principal = outcome.principal;
            username = ctx.username;
            ctx.accept();
          } else if (outcome.kind === 'key-ok') {
            ctx.accept();
          } else {
            if (ctx.method !== 'none')
              log.info({ client: clientAddr, method: ctx.method, reason: outcome.reason }, 'ssh client refused');
            ctx.reject(METHODS);
          }
        },
        (err: unknown) => {
          log.error({ err, client: clientAddr, method: ctx.method }, 'ssh authentication failed');
          if (isControlPlaneUnavailable(err)) sendAuthBanner(ctx, `Warden: ${UNAVAILABLE}`);
          ctx.reject(METHODS);
        },
      );
    });
    client.on('ready', () => {
      if (handshake) clearTimeout(handshake.timer);
      this.handshakes.delete(key);
      const requests = new SessionRequests(client);
      void this.start(client, requests, clientAddr, principal!, username).catch((err: unknown) => {
        log.error({ err, client: clientAddr, identity: principal?.name, username }, 'ssh session failed to start');
        if (isControlPlaneUnavailable(err)) this.refuse(client, requests, UNAVAILABLE);
        else client.end();
      });
    });
  }

  private async authenticate(ctx: AuthContext, clientAddr: string | undefined): Promise<SshAuthOutcome> {
    const { prisma, logins } = this.deps;
    // Tokens only: a client offering its keys one by one is not guessing anything.
    const withToken = async (token: () => Promise<string>): Promise<SshAuthOutcome> => {
      const lockedFor = logins.retryAfter(clientAddr);
      if (lockedFor > 0)
        return { kind: 'rejected', reason: `too many failed logins; locked for ${Math.ceil(lockedFor / 1000)} s` };
      const outcome = await authenticateWithToken(prisma, await token());
      if (outcome.kind === 'rejected') logins.failed(clientAddr);
      return outcome;
    };
    switch (ctx.method) {
      case 'password':
        return withToken(() => Promise.resolve(ctx.password));
      case 'publickey':
        return authenticateWithKey(prisma, ctx);
      case 'keyboard-interactive':
        return withToken(async () => {
          const answers = await new Promise<string[]>((resolve) =>
            ctx.prompt([{ prompt: 'Warden token: ', echo: false }], 'Warden', '', resolve),
          );
          return answers[0] ?? '';
        });
      default:
        return { kind: 'rejected', reason: `method ${ctx.method} is not offered` };
    }
  }

  /**
   * After authentication: authorize the connection the username names and load its
   * policy (fail closed). A refusal is told on the first channel's stderr, since SSH
   * authentication failures carry no message.
   */
  private async start(
    client: SshConnection,
    requests: SessionRequests,
    clientAddr: string | undefined,
    principal: Principal,
    username: string,
  ) {
    const { prisma, targets, logger: log } = this.deps;
    const authorization = await authorizeConnection(prisma, targets, principal, username);
    if (!authorization.ok) {
      log.info({ client: clientAddr, identity: principal.name, reason: authorization.message }, 'ssh client refused');
      return this.refuse(client, requests, authorization.message);
    }
    const { connection } = authorization;
    let shell: ShellPolicy;
    try {
      const loaded = await this.deps.policies.forConnection(connection.id);
      shell = this.shellPolicies.get(loaded.policy) ?? new ShellPolicy(loaded.policy.rules);
      this.shellPolicies.set(loaded.policy, shell);
    } catch (error) {
      log.error({ err: (error as Error).message, connection: connection.name }, 'policy could not be loaded');
      return this.refuse(
        client,
        requests,
        `the policy of connection "${connection.name}" could not be loaded; refusing (fail closed)`,
      );
    }
    const session = new SshGatewaySession(
      {
        client,
        requests,
        clientAddr,
        username,
        principal,
        connection,
        target: sshTarget(targets, connection),
        policy: shell,
        options: sshOptionsOf(connection.options),
        ...(authorization.grant ? { grant: authorization.grant } : {}),
      },
      {
        tunnel: this.deps.tunnel,
        tracker: this.deps.tracker,
        recordings: this.deps.recordings,
        reviews: this.deps.reviews,
        publicUrl: this.deps.publicUrl,
        logger: log,
      },
    );
    await session.run();
  }

  /** Answers the first session channel with the refusal on stderr and exit status 1, then disconnects. */
  private refuse(client: SshConnection, requests: SessionRequests, message: string): void {
    const end = setTimeout(() => client.end(), 10_000);
    requests.handle((accept) => {
      const session = accept();
      const answer = (channel: ServerChannel) => {
        channel.stderr.write(`Warden: ${message}\r\n`);
        channel.exit(1);
        channel.end();
        clearTimeout(end);
        setTimeout(() => client.end(), 50);
      };
      session.on('pty', (accept) => accept?.());
      session.on('env', (accept) => accept?.());
      session.on('shell', (accept) => answer(accept()));
      session.on('exec', (accept) => answer(accept()));
      session.on('subsystem', (accept) => answer(accept()));
    });
    requests.handleTcpip((_accept, reject) => reject());
  }
}

function handshakeKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/**
 * Tells a client past a connection cap why it is refused, without the cost of a key exchange:
 * the server's version line, then SSH_MSG_DISCONNECT (reason 12, too many connections) in the
 * clear, as it may be before keys are exchanged; OpenSSH prints "Received disconnect from …:12:
 * <message>". The socket closes when the client does, or after REFUSAL_TIMEOUT_MS; what the
 * client sends meanwhile is read and dropped, so that closing does not reset the connection
 * before the client has read the message.
 */
function refuseOverCap(socket: Socket, message: string): void {
  const timer = setTimeout(() => socket.destroy(), REFUSAL_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(timer));
  socket.on('data', () => {});
  socket.end(Buffer.concat([Buffer.from('SSH-2.0-Warden\r\n'), disconnectPacket(12, `Warden: ${message}`)]));
}

/** An unencrypted SSH binary packet (RFC 4253 6) carrying SSH_MSG_DISCONNECT (RFC 4253 11.1). */
function disconnectPacket(reason: number, description: string): Buffer {
  const text = Buffer.from(description, 'utf8');
  const payload = Buffer.alloc(1 + 4 + 4 + text.length + 4);
  payload[0] = 1; // SSH_MSG_DISCONNECT
  payload.writeUInt32BE(reason, 1);
  payload.writeUInt32BE(text.length, 5);
  text.copy(payload, 9);
  payload.writeUInt32BE(0, 9 + text.length); // language tag: none
  // Padding: at least 4 bytes, the packet (length field included) a multiple of 8.
  let padding = 8 - ((4 + 1 + payload.length) % 8);
  if (padding < 4) padding += 8;
  const packet = Buffer.alloc(4 + 1 + payload.length + padding);
  packet.writeUInt32BE(1 + payload.length + padding, 0);
  packet[4] = padding;
  payload.copy(packet, 5);
  return packet;
}

/** The parts of ssh2's protocol object (not its public API) that sendAuthBanner uses. */
interface Ssh2Protocol {
  _kexinit?: unknown;
  _cipher?: { encrypt(packet: Buffer): void };
  _packetRW?: { write?: { allocStart: number; alloc(size: number): Buffer; finalize(packet: Buffer): Buffer } };
}

/**
 * Tells a client why its login failed, which an authentication failure cannot: an
 * SSH_MSG_USERAUTH_BANNER, which the server may send at any time before authentication succeeds
 * (RFC 4252 5.4) and OpenSSH prints at its default log level. ssh2 sends only the banner configured
 * at start, so this writes the message as ssh2 writes that one; should its internals differ (or a
 * key exchange be under way), the client gets no message and the refusal alone.
 */
function sendAuthBanner(ctx: AuthContext, text: string): void {
  const proto = (ctx as unknown as { _protocol?: Ssh2Protocol })._protocol;
  const writer = proto?._packetRW?.write;
  if (!proto?._cipher || !writer || proto._kexinit !== undefined) return;
  try {
    const body = Buffer.from(`${text}\r\n`, 'utf8');
    let p = writer.allocStart;
    const packet = writer.alloc(1 + 4 + body.length + 4);
    packet[p] = 53; // SSH_MSG_USERAUTH_BANNER
    packet.writeUInt32BE(body.length, ++p);
    body.copy(packet, (p += 4));
    packet.writeUInt32BE(0, p + body.length); // language tag: none
    proto._cipher.encrypt(writer.finalize(packet));
  } catch {
    // No banner: the client still gets the refusal.
  }
}
