import type { RecordedEvent, RecoveredEnd, SessionEndPayload } from './events.js';

/**
 * Recordings sealed as interrupted. When the gateway running a session goes away without ending
 * it, the events it had not stored yet are gone with it, and nobody wrote the session's end or its
 * seal. The gateway that later finds the session (the same one restarted, or another replica once
 * the first one's presence expired) appends a `session.end` with a `recovered` member to what was
 * stored, continuing the same hash chain, and seals the chain as usual. The seal then covers a
 * final event saying the recording was interrupted, by whom, and how much of it had been stored:
 * the marker cannot be removed or forged without breaking the seal, and seals that were made at a
 * session's own end stay exactly what they were.
 */

/** The `recovered` member of a session.end event, when it is one a recovering gateway wrote. */
export function recoveredEndOf(event: Pick<RecordedEvent, 'kind' | 'payload'> | undefined): RecoveredEnd | undefined {
  if (!event || event.kind !== 'session.end') return undefined;
  const recovered = (event.payload as { recovered?: unknown } | null)?.recovered;
  if (typeof recovered !== 'object' || recovered === null) return undefined;
  const { gatewayId, by, storedSeq } = recovered as Record<string, unknown>;
  if (typeof gatewayId !== 'string' || typeof by !== 'string') return undefined;
  if (typeof storedSeq !== 'number' || !Number.isSafeInteger(storedSeq) || storedSeq < 0) return undefined;
  return { gatewayId, by, storedSeq };
}

/** The session.end a recovering gateway appends: interrupted, no counters (they were lost). */
export function recoveredEndPayload(reason: string, recovered: RecoveredEnd): SessionEndPayload {
  return { status: 'interrupted', reason, recovered: { ...recovered } };
}

/** One line on how a recovered recording ends, for reports and transcripts. */
export function describeRecoveredEnd(recovered: RecoveredEnd): string {
  const stored =
    recovered.storedSeq === 0
      ? 'no event had been stored'
      : `it covers the ${recovered.storedSeq === 1 ? 'event' : `${recovered.storedSeq} events`} stored until then`;
  const who =
    recovered.by === recovered.gatewayId
      ? `gateway ${recovered.gatewayId} went away without ending the session and ended it when it came back`
      : `gateway ${recovered.gatewayId} went away without ending the session; gateway ${recovered.by} ended it`;
  return `${who}: ${stored}, and events recorded but not yet stored when it went away are not in the recording`;
}
