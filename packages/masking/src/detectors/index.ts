import { creditCard, iban, usSsn } from './financial.js';
import { email, phone } from './contact.js';
import { ipv4, ipv6 } from './network.js';
import { apiKey, awsAccessKeyId, bearerToken, jwt, pemPrivateKey } from './secrets.js';
import { DETECTOR_IDS, stringStats, type Detector, type DetectorId, type TextStats } from './types.js';

export { DETECTOR_IDS, textStats, stringStats, type Detector, type DetectorId, type TextStats } from './types.js';
export { luhnValid, ibanChecksumValid } from './financial.js';

/** Every detector by id. */
export const DETECTORS: Readonly<Record<DetectorId, Detector>> = {
  pem_private_key: pemPrivateKey,
  jwt,
  bearer_token: bearerToken,
  api_key: apiKey,
  aws_access_key_id: awsAccessKeyId,
  email,
  iban,
  credit_card: creditCard,
  us_ssn: usSsn,
  phone,
  ipv6,
  ipv4,
};

export function isDetectorId(id: string): id is DetectorId {
  return (DETECTOR_IDS as readonly string[]).includes(id);
}

/** Bit of each detector in {@link candidates} masks. */
export const DETECTOR_BIT: Readonly<Record<DetectorId, number>> = Object.fromEntries(
  DETECTOR_IDS.map((id, i) => [id, 1 << i]),
) as Record<DetectorId, number>;

const B = DETECTOR_BIT;

/**
 * The detectors that could possibly match text with these byte statistics, as a bit mask. One
 * plain function (rather than a callback per detector) because it runs for every scanned cell:
 * most cells are ruled out here without decoding them.
 */
export function candidates(s: TextStats): number {
  let m = 0;
  const letters = s.upper + s.lower;
  if (s.at > 0 && s.dots > 0 && s.length >= 6) m |= B.email;
  if (s.digits >= 8) {
    m |= B.phone;
    if (s.digits >= 13) m |= B.credit_card;
    if (s.length >= 11 && (s.dashes >= 2 || s.spaces >= 2)) m |= B.us_ssn;
  }
  if (s.length >= 15 && s.upper >= 2 && s.digits >= 2) m |= B.iban;
  if (s.dots >= 3 && s.digits >= 4) m |= B.ipv4;
  if (s.colons >= 2) m |= B.ipv6;
  if (s.length >= 20) {
    if (s.dots >= 2) m |= B.jwt;
    if (s.upper >= 4 && s.upper + s.digits >= 20) m |= B.aws_access_key_id;
    if (s.dashes >= 10 && s.upper >= 10) m |= B.pem_private_key;
  }
  if (s.length >= 15 && letters >= 6 && s.spaces > 0) m |= B.bearer_token;
  if (s.length >= 14 && letters >= 6 && (s.underscores + s.dashes > 0 || s.dots >= 2 || s.length >= 39)) {
    m |= B.api_key;
  }
  return m;
}

/** One detected value: [start, end) offsets and the detector that found it. */
export interface Span {
  start: number;
  end: number;
  detector: DetectorId;
}

const NONE: Span[] = [];

// One collector for every scan (findSpans is synchronous and never re-entered): no closure
// allocated per cell and detector.
const found: Span[] = [];
let scanning: DetectorId = 'email';
function collect(start: number, end: number): void {
  found.push({ start, end, detector: scanning });
}

/**
 * Run those of `detectors` that `mask` allows (default: those {@link candidates} allows for
 * `text`) over `text` and return non-overlapping spans in order. Overlapping matches are merged
 * into one span, attributed to the detector of the longest one: masking their union never
 * leaves part of a value visible.
 */
export function findSpans(text: string, detectors: readonly Detector[], mask?: number): Span[] {
  const allowed = mask ?? candidates(stringStats(text));
  if (found.length !== 0) found.length = 0;
  for (const d of detectors) {
    if ((allowed & DETECTOR_BIT[d.id]) === 0) continue;
    scanning = d.id;
    d.scan(text, collect);
  }
  if (found.length === 0) return NONE;
  if (found.length === 1) return [found[0]!];
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  let cur = { ...found[0]! };
  let curLongest = cur.end - cur.start;
  for (let i = 1; i < found.length; i++) {
    const s = found[i]!;
    if (s.start < cur.end) {
      if (s.end - s.start > curLongest) {
        curLongest = s.end - s.start;
        cur.detector = s.detector;
      }
      if (s.end > cur.end) cur.end = s.end;
    } else {
      out.push(cur);
      cur = { ...s };
      curLongest = s.end - s.start;
    }
  }
  out.push(cur);
  return out;
}
