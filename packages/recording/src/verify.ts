import type { KeyObject } from 'node:crypto';
import { eventHash, GENESIS_HASH } from './chain.js';
import type { RecordedEvent, RecordingSeal } from './events.js';
import { describeRecoveredEnd, recoveredEndOf } from './interrupted.js';
import { keyIdOf, verifySealSignature } from './signing.js';

export type ChainBreakReason = 'hash-mismatch' | 'prev-hash-mismatch' | 'seq-gap' | 'wrong-session' | 'missing-events';

/**
 * - valid: signed by the given key over exactly this chain
 * - invalid-signature: the signature does not verify with the given key
 * - mismatch: the seal's session, final hash or lastSeq differ from the chain
 * - missing: the session ended but carries no seal
 * - unsealed: the session is still running
 * - no-public-key: the seal matches the chain but nobody can tell who signed it
 */
export type SealStatus = 'valid' | 'invalid-signature' | 'mismatch' | 'missing' | 'unsealed' | 'no-public-key';

export interface ChainBreak {
  seq: number;
  reason: ChainBreakReason;
  detail: string;
}

/**
 * How a seal that matches the chain ended the recording:
 * - ended: the gateway running the session sealed it at the session's end
 * - interrupted: that gateway went away without ending it; a gateway that found the session later
 *   appended a session.end saying so and sealed what had been stored (see interrupted.ts)
 */
export type SealedAs = 'ended' | 'interrupted';

export interface VerifyReport {
  /** Nothing wrong found: an intact chain with a valid seal, or an intact chain of a running session. */
  ok: boolean;
  eventCount: number;
  chain: 'intact' | 'broken';
  /** The first event where the recording stops being trustworthy (present iff chain is broken). */
  brokenAt?: ChainBreak;
  seal: SealStatus;
  /** Present when the seal matches an intact chain (seal `valid` or `no-public-key`). */
  sealedAs?: SealedAs;
  summary: string;
}

export interface VerifyInput {
  sessionId: string;
  /** In the order they were stored or exported; verification does not sort them. */
  events: RecordedEvent[];
  seal: RecordingSeal | null;
  publicKey?: KeyObject | null;
  /** Whether the session has ended; by default, whether a session.end event is present. */
  ended?: boolean;
}

/**
 * Checks a recording the way an auditor would: every event's hash recomputed and
 * linked to its predecessor from the genesis hash, seqs 1..n without holes, all of one
 * session, and the seal bound to the chain's last event and signed by the key.
 */
export function verifyRecording(input: VerifyInput): VerifyReport {
  const verifier = new RecordingVerifier(input.sessionId);
  for (const event of input.events) verifier.add(event);
  return verifier.finish(input);
}

/** What a report needs besides the events: the seal, the key it is checked with, whether the session ended. */
export type SealInput = Omit<VerifyInput, 'events' | 'sessionId'>;

/**
 * verifyRecording one event at a time, holding only the chain's running state, so a recording
 * of any length is verified as it is read (the API streams it from the database).
 */
export class RecordingVerifier {
  private prev = GENESIS_HASH;
  private count = 0;
  private last: RecordedEvent | undefined;
  private brokenAt: ChainBreak | undefined;
  private sawEnd = false;

  constructor(private readonly sessionId: string) {}

  /** The next event in the order it was stored or exported; verification does not sort them. */
  add(event: RecordedEvent): void {
    this.count += 1;
    this.last = event;
    if (event.kind === 'session.end') this.sawEnd = true;
    if (this.brokenAt) return;
    this.brokenAt = checkLink(this.sessionId, event, this.count, this.prev);
    this.prev = event.hash;
  }

  finish(input: SealInput): VerifyReport {
    const { sessionId, last } = this;
    const { seal } = input;
    const ended = input.ended ?? this.sawEnd;
    const chain: ChainState = { sessionId, last, ended };
    let brokenAt = this.brokenAt;

    const sealStatus = checkSeal(input, chain);
    // A trusted seal that covers more events than are here means the tail was cut off:
    // the chain of what remains is consistent, so only the seal can show it.
    if (!brokenAt && seal && sealStatus === 'mismatch' && seal.sessionId === sessionId) {
      const lastSeq = last?.seq ?? 0;
      if (seal.lastSeq > lastSeq) {
        const missing = seal.lastSeq - lastSeq;
        brokenAt = {
          seq: lastSeq + 1,
          reason: 'missing-events',
          detail: `the seal covers seq 1..${seal.lastSeq} but the recording ends at seq ${lastSeq}: ${plural(missing, 'event')} missing at the end`,
        };
      }
    }
    if (!brokenAt && !last && (ended || seal)) {
      brokenAt = { seq: 1, reason: 'missing-events', detail: 'the session ended but the recording has no events' };
    }

    const ok = !brokenAt && (sealStatus === 'valid' || sealStatus === 'unsealed');
    const report: VerifyReport = {
      ok,
      eventCount: this.count,
      chain: brokenAt ? 'broken' : 'intact',
      seal: sealStatus,
      summary: '',
    };
    if (brokenAt) report.brokenAt = brokenAt;
    // The marker is the last event, so a seal matching an intact chain covers it: it can be neither
    // forged nor removed. A broken chain vouches for nothing after the break, the marker included.
    if (!brokenAt && (sealStatus === 'valid' || sealStatus === 'no-public-key')) {
      report.sealedAs = recoveredEndOf(last) ? 'interrupted' : 'ended';
    }
    report.summary = summarize(report, input, chain);
    return report;
  }
}

/** The end of a verified chain, which the seal is compared with. */
interface ChainState {
  sessionId: string;
  last: RecordedEvent | undefined;
  ended: boolean;
}

/** Why the event at position `expected` (1-based) breaks the chain after `prev`, if it does. */
function checkLink(sessionId: string, e: RecordedEvent, expected: number, prev: string): ChainBreak | undefined {
  if (e.sessionId !== sessionId) {
    return {
      seq: e.seq,
      reason: 'wrong-session',
      detail: `event ${expected} belongs to session ${JSON.stringify(e.sessionId)}, not ${sessionId}`,
    };
  }
  if (e.seq !== expected) {
    const detail =
      e.seq > expected
        ? `expected seq ${expected}, found seq ${e.seq}: ${seqRange(expected, e.seq - 1)} missing`
        : `expected seq ${expected}, found seq ${e.seq}: events out of order or duplicated`;
    return { seq: e.seq, reason: 'seq-gap', detail };
  }
  if (e.prevHash !== prev) {
    return {
      seq: e.seq,
      reason: 'prev-hash-mismatch',
      detail:
        expected === 1
          ? `the first event must link to the genesis hash, links to ${short(e.prevHash)}`
          : `links to ${short(e.prevHash)} but seq ${e.seq - 1} hashes to ${short(prev)}: an event before it was replaced`,
    };
  }
  const actual = eventHash(e.prevHash, e);
  if (actual !== e.hash) {
    return {
      seq: e.seq,
      reason: 'hash-mismatch',
      detail: `content hashes to ${short(actual)}, recorded hash is ${short(e.hash)}: the event was altered after recording`,
    };
  }
  return undefined;
}

function checkSeal(input: SealInput, { sessionId, last, ended }: ChainState): SealStatus {
  const { seal, publicKey } = input;
  if (!seal) return ended ? 'missing' : 'unsealed';
  // A bad signature makes the seal's claims worthless, so it is reported before comparing them.
  if (publicKey && !verifySealSignature(seal, publicKey)) return 'invalid-signature';
  const matches =
    seal.sessionId === sessionId &&
    seal.lastSeq === (last?.seq ?? 0) &&
    seal.finalHash === (last?.hash ?? GENESIS_HASH);
  if (!matches) return 'mismatch';
  return publicKey ? 'valid' : 'no-public-key';
}

function summarize(report: VerifyReport, input: SealInput, chain: ChainState): string {
  const parts: string[] = [];
  if (report.brokenAt) {
    const b = report.brokenAt;
    parts.push(`chain broken at seq ${b.seq} (${b.reason}): ${b.detail}`);
  } else {
    parts.push(`chain intact (${plural(report.eventCount, 'event')})`);
  }
  const seal = input.seal;
  switch (report.seal) {
    case 'valid':
      parts.push(`seal valid (key ${input.publicKey ? keyIdOf(input.publicKey) : '?'}, seq 1..${seal?.lastSeq})`);
      break;
    case 'invalid-signature':
      parts.push(
        seal && input.publicKey && seal.signingKeyId !== keyIdOf(input.publicKey)
          ? `seal signature invalid: sealed by key ${seal.signingKeyId}, checked with key ${keyIdOf(input.publicKey)}`
          : 'seal signature invalid: the seal was forged or altered',
      );
      break;
    case 'mismatch':
      parts.push(`seal does not match the chain: ${sealMismatchDetail(input, chain)}`);
      break;
    case 'missing':
      parts.push('seal missing: the session ended but was never sealed');
      break;
    case 'unsealed':
      parts.push('not sealed yet: the session is still running');
      break;
    case 'no-public-key':
      parts.push('seal matches the chain but its signature was not checked (no public key)');
      break;
  }
  const recovered = report.sealedAs === 'interrupted' ? recoveredEndOf(chain.last) : undefined;
  if (recovered) parts.push(`sealed as interrupted: ${describeRecoveredEnd(recovered)}`);
  return `${report.ok ? 'OK' : 'FAILED'}: ${parts.join('; ')}`;
}

function sealMismatchDetail({ seal }: SealInput, { sessionId, last }: ChainState): string {
  if (!seal) return '';
  if (seal.sessionId !== sessionId) return `sealed session ${seal.sessionId}, recording of ${sessionId}`;
  if (seal.lastSeq !== (last?.seq ?? 0)) return `sealed up to seq ${seal.lastSeq}, events end at seq ${last?.seq ?? 0}`;
  return `sealed final hash ${short(seal.finalHash)}, chain ends with ${short(last?.hash ?? GENESIS_HASH)}`;
}

function seqRange(from: number, to: number): string {
  return from === to ? `seq ${from} is` : `seq ${from}..${to} are`;
}

function short(hash: unknown): string {
  return typeof hash === 'string' ? hash.slice(0, 12) + '…' : JSON.stringify(hash);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
