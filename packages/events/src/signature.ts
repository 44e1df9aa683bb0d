import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (docs/events.md, "Verifying a delivery"):
 *   X-Warden-Timestamp: <unix seconds>
 *   X-Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>.<raw body>")>
 * The timestamp is inside the signed string, so a captured delivery cannot be replayed later
 * under a new timestamp; receivers refuse timestamps older than their tolerance.
 */
export const WEBHOOK_SIGNATURE_HEADER = 'x-warden-signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'x-warden-timestamp';

function mac(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
}

export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return `t=${timestamp},v1=${mac(secret, timestamp, rawBody)}`;
}

/** True when `header` signs `rawBody` with `secret` and its timestamp is within `toleranceSeconds` of now. */
export function verifyWebhook(
  secret: string,
  header: string | undefined,
  rawBody: string,
  options: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isSafeInteger(timestamp) || !parts.v1) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(mac(secret, timestamp, rawBody), 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
