import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where admin-configured URLs (webhook subscriptions, review notifications) may send requests.
 *
 * Webhook URLs are typed in by admins, and the API runs inside the infrastructure it guards: a
 * URL pointing at the cloud metadata service, the control-plane database or another internal
 * service would turn Warden into a proxy into that network (SSRF). So, as GitLab does for its
 * webhooks, only public addresses are reachable unless the operator lists internal networks in
 * WARDEN_WEBHOOK_ALLOWED_NETWORKS. The check runs on the addresses the connection actually
 * uses (at DNS lookup, and for IP literals), so a name that resolves to an internal address,
 * or is re-pointed after the subscription was saved, is refused too. Redirects are not followed.
 */
export class OutboundPolicy {
  private readonly allowed = new BlockList();

  /** `allowedNetworks`: CIDRs (or single addresses) that may be reached although internal. */
  constructor(readonly allowedNetworks: readonly string[] = []) {
    for (const network of allowedNetworks) addNetwork(this.allowed, network);
  }

  /** Whether a connection to this resolved address is allowed. */
  permits(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(address, type)) return true;
    const mapped = family === 6 ? mappedIpv4(address) : undefined;
    if (mapped !== undefined) return this.permits(mapped);
    return !INTERNAL.check(address, type);
  }

  /** A dns.lookup that fails when any address of the name is not permitted. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.find((a) => !this.permits(a.address));
      if (refused || addresses.length === 0) {
        return callback(new OutboundRefused(hostname), '', 0);
      }
      if ((options as { all?: boolean }).all) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, addresses[0]!.address, addresses[0]!.family);
      }
    });
  };
}

/** The request was not sent: its host is (or resolves to) an address the policy refuses. */
export class OutboundRefused extends Error {
  readonly code = 'OUTBOUND_REFUSED';

  constructor(host: string) {
    super(
      `${host} is an internal address; list its network in WARDEN_WEBHOOK_ALLOWED_NETWORKS to allow requests to it`,
    );
    this.name = 'OutboundRefused';
  }
}

/** Loopback, private, link-local (cloud metadata), shared, reserved and multicast ranges. */
const INTERNAL = new BlockList();
for (const network of [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  '64:ff9b::/96',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
]) {
  addNetwork(INTERNAL, network);
}

function addNetwork(list: BlockList, network: string): void {
  const [address, bits] = network.trim().split('/');
  const family = isIP(address ?? '');
  if (family === 0) throw new Error(`not an IP network: ${JSON.stringify(network)}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
    throw new Error(`not an IP network: ${JSON.stringify(network)}`);
  }
  list.addSubnet(address!, prefix, type);
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), if it is one. */
function mappedIpv4(address: string): string | undefined {
  const match = /^::ffff:(?:0:)?([0-9a-f.:]+)$/i.exec(address);
  if (!match) return undefined;
  const tail = match[1]!;
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export interface OutboundResponse {
  status: number;
  ok: boolean;
  /** The start of the body (up to `maxBodyBytes`), for error messages. */
  body: string;
}

/**
 * POSTs `body` under the policy: IP-literal hosts are checked here, names at DNS lookup (the
 * addresses the socket then connects to). Throws OutboundRefused before anything is sent.
 */
export async function postOutbound(
  policy: OutboundPolicy,
  url: string,
  request: { headers: Record<string, string>; body: string; timeoutMs: number; maxBodyBytes?: number },
): Promise<OutboundResponse> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new Error(`unsupported URL scheme ${target.protocol}`);
  }
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0 && !policy.permits(host)) throw new OutboundRefused(target.host);
  const maxBodyBytes = request.maxBodyBytes ?? 4096;
  const transport = target.protocol === 'https:' ? https : http;
  return await new Promise<OutboundResponse>((resolve, reject) => {
    const req = transport.request(
      target,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        lookup: policy.lookup,
        signal: AbortSignal.timeout(request.timeoutMs),
        // One connection per delivery: a pooled socket would skip the lookup, and its check.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < maxBodyBytes) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).subarray(0, maxBodyBytes).toString('utf8');
          resolve({ status, ok: status >= 200 && status < 300, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err: Error) => {
      // The lookup's refusal arrives as the request's error; keep its type.
      const cause = (err as { cause?: unknown }).cause;
      reject(cause instanceof OutboundRefused ? cause : err);
    });
    req.end(request.body);
  });
}
