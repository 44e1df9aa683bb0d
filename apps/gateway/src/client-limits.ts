import type { Socket } from 'node:net';
import { MessageBudget } from '@warden/pg-wire';
import { loadConfig, type Logger, type WardenConfig } from '@warden/runtime';
import { clientLimitMetrics, registerClientLimitSource } from '@warden/runtime/metrics';

/** What ClientLimits reads of the configuration (WardenConfig's names). */
export type ClientLimitSettings = Pick<
  WardenConfig,
  'maxClientConnections' | 'maxClientConnectionsPerAddress' | 'clientMessageBudgetBytes' | 'clientStartupTimeoutMs'
>;

/**
 * Refused clients still get a word (a Postgres ErrorResponse after their TLS handshake, an SSH
 * disconnect message); this many such refusals may be under way at once, each for at most
 * REFUSAL_TIMEOUT_MS. Past that, a refused socket is closed without a word: a flood of connections
 * costs a bounded number of descriptors and handshakes.
 */
export const REFUSALS_IN_FLIGHT = 64;
export const REFUSAL_TIMEOUT_MS = 5_000;
/** A refusal is logged at once, then at most this often (with the number refused meanwhile). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export type Admission =
  /** Admitted: `release` once the socket is closed. */
  | { kind: 'admitted'; release: () => void }
  /** Over a cap, with a refusal slot: answer the client with `message`, `release` once closed. */
  | { kind: 'refused'; limit: 'gateway' | 'address'; message: string; release: () => void }
  /** Over a cap and too many refusals under way: close the socket at once. */
  | { kind: 'dropped'; limit: 'gateway' | 'address' };

/**
 * The client-side limits of one gateway, shared by its listeners: caps on open client sockets
 * (all protocols together, and per client address), and the budget for buffered large Postgres
 * messages. Plain counters; metrics read them at scrape time.
 */
export class ClientLimits {
  readonly budget: MessageBudget | undefined;
  readonly startupTimeoutMs: number;
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly perProtocol: Record<string, number> = {};
  private refusing = 0;
  private lastRefusalLog = 0;
  private refusedSinceLog = 0;
  private readonly unregister: () => void;

  constructor(private readonly settings: ClientLimitSettings) {
    this.budget =
      settings.clientMessageBudgetBytes > 0 ? new MessageBudget(settings.clientMessageBudgetBytes) : undefined;
    this.startupTimeoutMs = settings.clientStartupTimeoutMs;
    this.unregister = registerClientLimitSource(() => ({
      connections: { ...this.perProtocol },
      bufferedBytes: this.budget?.used ?? 0,
      budgetBytes: this.budget?.limit ?? 0,
      messagesRefused: this.budget?.refused ?? 0,
    }));
  }

  private static sharedLimits: ClientLimits | undefined;

  /**
   * The process's limits, from its configuration: what listeners use when they are not given any
   * (a gateway process runs one gateway, whose listeners must share one count).
   */
  static shared(): ClientLimits {
    ClientLimits.sharedLimits ??= new ClientLimits(loadConfig());
    return ClientLimits.sharedLimits;
  }

  /** Open client sockets now (admitted ones; refusals under way are not counted). */
  get connections(): number {
    return this.total;
  }

  /** Counts a new client socket in, or says which cap it is over. */
  admit(protocol: string, remoteAddress: string | undefined, log?: Logger): Admission {
    const address = normalizeAddress(remoteAddress);
    const { maxClientConnections: max, maxClientConnectionsPerAddress: maxPerAddress } = this.settings;
    const fromAddress = this.perAddress.get(address) ?? 0;
    let limit: 'gateway' | 'address' | undefined;
    let message = '';
    if (max > 0 && this.total >= max) {
      limit = 'gateway';
      message = `sorry, too many clients already: this gateway holds its limit of ${max} client connections; try again later`;
    } else if (maxPerAddress > 0 && fromAddress >= maxPerAddress) {
      limit = 'address';
      message = `too many connections from this address: the limit is ${maxPerAddress} per address; close some or try again later`;
    }
    if (limit) {
      clientLimitMetrics.connectionsRefused.inc({ protocol, limit });
      this.logRefusal(protocol, limit, address, log);
      if (this.refusing >= REFUSALS_IN_FLIGHT) return { kind: 'dropped', limit };
      this.refusing += 1;
      return { kind: 'refused', limit, message, release: once(() => (this.refusing -= 1)) };
    }
    this.total += 1;
    this.perAddress.set(address, fromAddress + 1);
    this.perProtocol[protocol] = (this.perProtocol[protocol] ?? 0) + 1;
    return {
      kind: 'admitted',
      release: once(() => {
        this.total -= 1;
        this.perProtocol[protocol]! -= 1;
        const left = (this.perAddress.get(address) ?? 1) - 1;
        if (left > 0) this.perAddress.set(address, left);
        else this.perAddress.delete(address);
      }),
    };
  }

  /** Stops reporting metrics (limits made for a test or an embedded gateway that stopped). */
  close(): void {
    this.unregister();
  }

  private logRefusal(protocol: string, limit: string, address: string, log: Logger | undefined): void {
    this.refusedSinceLog += 1;
    const now = Date.now();
    if (!log || now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    log.warn(
      {
        protocol,
        limit,
        client: address,
        refused: this.refusedSinceLog,
        connections: this.total,
        fromAddress: this.perAddress.get(address) ?? 0,
        maxClientConnections: this.settings.maxClientConnections,
        maxClientConnectionsPerAddress: this.settings.maxClientConnectionsPerAddress,
      },
      'client connections refused: connection cap reached',
    );
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** A socket we ended is closed once its client has sent nothing for this long… */
export const LINGER_IDLE_MS = 1_000;
/** …and at the latest after this long. */
export const LINGER_MAX_MS = 10_000;

/**
 * Closes the socket (its descriptor) once our side has ended it, whether or not the client closes
 * its side: without this, a socket we end stays open until the client closes, which a client that
 * never reads or never closes does not. A client still sending (the rest of a refused message) is
 * read and dropped until it pauses (LINGER_IDLE_MS; LINGER_MAX_MS at most): closing with unread
 * bytes resets the connection, and a reset can lose the ErrorResponse it has not read yet.
 */
export function closeOnceEnded(socket: Socket): void {
  socket.once('finish', () => {
    if (socket.destroyed || socket.readableEnded) {
      socket.destroy();
      return;
    }
    // Nothing the client sends matters any more: drop it, whoever was reading it.
    let received = 0;
    socket.removeAllListeners('data');
    socket.on('data', () => (received += 1));
    socket.once('end', () => socket.destroy());
    const latest = setTimeout(() => socket.destroy(), LINGER_MAX_MS);
    let seen = 0;
    let idle: NodeJS.Timeout;
    // Checked after a poll phase (setImmediate), so that bytes waiting while the event loop was
    // busy are read first and do not count as a pause.
    const check = () => {
      if (received === seen) socket.destroy();
      else {
        seen = received;
        idle = setTimeout(() => setImmediate(check), LINGER_IDLE_MS);
      }
    };
    idle = setTimeout(() => setImmediate(check), LINGER_IDLE_MS);
    socket.once('close', () => {
      clearTimeout(latest);
      clearTimeout(idle);
    });
    socket.resume();
  });
}
