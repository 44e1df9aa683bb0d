import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection as SshConnection, ServerChannel } from 'ssh2';
import type { LoginThrottle, Principal } from '@warden/access';
import { isControlPlaneUnavailable, type PrismaClient } from '@warden/db';
import { ShellPolicy, type CompiledPolicy, type Decision } from '@warden/policy';
import type { ReviewService } from '@warden/reviews';
import type { ListenAddress, Logger } from '@warden/runtime';
import type { TunnelServer } from '@warden/tunnel';
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

const AUTH_TIMEOUT_MS = 30_000;
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
  private readonly clients = new Set<SshConnection>();
  /** Shell-policy view of each compiled policy (they are cached per version by the loader). */
  private readonly shellPolicies = new WeakMap<CompiledPolicy<Decision>, ShellPolicy>();

  constructor(private readonly deps: SshListenerDeps) {
    this.server = new ssh2.Server(
      { hostKeys: [deps.hostKey.privateKey], ident: 'Warden', algorithms: { cipher: [...NATIVE_CIPHERS] } },
      (client, info) => this.accept(client, info.ip),
    );
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
      for (const client of this.clients) client.end();
    });
  }

  private accept(client: SshConnection, clientAddr: string | undefined): void {
    this.clients.add(client);
    const log = this.deps.logger;
    let principal: Principal | undefined;
    let username = '';
    const timer = setTimeout(() => client.end(), AUTH_TIMEOUT_MS);
    client.on('error', (err) => log.debug({ client: clientAddr, err: err.message }, 'ssh client error'));
    client.on('close', () => {
      clearTimeout(timer);
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
      clearTimeout(timer);
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
