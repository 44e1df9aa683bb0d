import type { PrismaClient } from '@warden/db';
import { GENESIS_HASH, type RecordedEvent } from '@warden/recording';

/**
 * How a RecordingChunk stores an event: the chained record without prevHash, which
 * is the hash of the event stored before it (the gateway leaves it out as redundant).
 */
type StoredEvent = Omit<RecordedEvent, 'prevHash' | 'sessionId'> & { sessionId?: string };

/**
 * Chunks read per query. A chunk holds one gateway flush of one session: a handful
 * of events for an interactive session, up to a few thousand for a bulk one, so a
 * few chunks at a time keeps memory bounded however long the recording is.
 */
const CHUNKS_PER_READ = 8;

export interface EventCursor {
  /** Only events with seq > after. */
  after?: number;
  /**
   * Hash of the event at `after`, when the caller already read it (live polling):
   * reading then starts at the chunks written after it, without re-reading its chunk.
   */
  prevHash?: string;
}

/**
 * A session's stored events in seq order, read a few chunks at a time, each with
 * prevHash restored from the event stored before it. Consumers that stop early
 * (a page, a disconnected client) just stop iterating.
 */
export async function* storedEvents(
  prisma: PrismaClient,
  sessionId: string,
  cursor: EventCursor = {},
): AsyncGenerator<RecordedEvent> {
  const after = cursor.after ?? 0;
  let prevHash = cursor.prevHash ?? GENESIS_HASH;
  // firstSeq bound of the next read: chunks never overlap, so a chunk starting after
  // `after` holds only newer events, and the one holding `after` starts at or before it.
  let from: { gt: number } | { gte: number } = { gt: -1 };
  if (after > 0 && cursor.prevHash !== undefined) {
    from = { gt: after };
  } else if (after > 0) {
    const holding = await prisma.recordingChunk.findFirst({
      where: { sessionId, firstSeq: { lte: after } },
      orderBy: { firstSeq: 'desc' },
      select: { firstSeq: true },
    });
    if (holding) from = { gte: holding.firstSeq };
  }
  for (;;) {
    const chunks = await prisma.recordingChunk.findMany({
      where: { sessionId, firstSeq: from },
      orderBy: { firstSeq: 'asc' },
      take: CHUNKS_PER_READ,
      select: { firstSeq: true, events: true },
    });
    for (const chunk of chunks) {
      for (const stored of storedArray(chunk.events)) {
        const event = restore(stored, sessionId, prevHash);
        prevHash = event.hash;
        if (event.seq > after) yield event;
      }
    }
    if (chunks.length < CHUNKS_PER_READ) return;
    from = { gt: chunks[chunks.length - 1]!.firstSeq };
  }
}

/** Up to `limit` events with seq > after, and whether more are stored after them. */
export async function readEventPage(
  prisma: PrismaClient,
  sessionId: string,
  after: number,
  limit: number,
): Promise<{ events: RecordedEvent[]; more: boolean }> {
  const events: RecordedEvent[] = [];
  for await (const event of storedEvents(prisma, sessionId, { after })) {
    if (events.length === limit) return { events, more: true };
    events.push(event);
  }
  return { events, more: false };
}

/** Seq of the last stored event (0 when none): the event count of a session still recording. */
export async function lastStoredSeq(prisma: PrismaClient, sessionId: string): Promise<number> {
  const last = await prisma.recordingChunk.findFirst({
    where: { sessionId },
    orderBy: { firstSeq: 'desc' },
    select: { lastSeq: true },
  });
  return last?.lastSeq ?? 0;
}

/**
 * A chunk's events. The column is text, unvalidated by the database: a chunk that does not parse
 * (it cannot come from the gateway) reads as no events, and verify reports the gap it leaves.
 */
function storedArray(text: string): StoredEvent[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as StoredEvent[]) : [];
  } catch {
    return [];
  }
}

/** The exported field order; the stored sessionId is kept so a foreign event stays detectable. */
function restore(stored: StoredEvent, sessionId: string, prevHash: string): RecordedEvent {
  return {
    sessionId: stored.sessionId ?? sessionId,
    seq: stored.seq,
    t: stored.t,
    direction: stored.direction,
    kind: stored.kind,
    payload: stored.payload,
    prevHash,
    hash: stored.hash,
  };
}
