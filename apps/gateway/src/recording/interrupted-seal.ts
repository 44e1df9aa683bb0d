import type { PrismaClient, SessionStatus } from '@warden/db';
import {
  encodePayload,
  GENESIS_HASH,
  HashChain,
  recoveredEndOf,
  recoveredEndPayload,
  type RecordedEvent,
  type RecordingSeal,
  type RecordingSigner,
  type SessionEndPayload,
} from '@warden/recording';
import { chunkOf } from './chunks.js';
import { recordingOptionsOf } from './recording-options.js';

/** A session row left `active` by a gateway that went away, as far as ending it needs. */
export interface OrphanedSession {
  id: string;
  /** The gateway that ran it. */
  gatewayId: string;
  connectionId: string;
}

/** How an orphaned session ends: what its row gets. */
export interface OrphanedEnd {
  status: SessionStatus;
  reason: string;
  /** Only when the recording already held the session's own end (its counters). */
  counters?: SessionEndPayload['counters'];
  /** Null when the session was not recorded (or its last stored chunk cannot be read). */
  seal: RecordingSeal | null;
  /** What was done to the recording. */
  recording: 'sealed-interrupted' | 'sealed-ended' | 'not-recorded' | 'unreadable';
  /** seq of the last stored event before the recovered end (0: none). */
  storedSeq: number;
}

const STATUSES: ReadonlySet<string> = new Set<SessionStatus>(['closed', 'interrupted', 'killed', 'failed']);
/** Another writer storing events at the same seq between our read and our insert is rare; more is a fault. */
const ATTEMPTS = 5;

/**
 * Ends the recording of a session whose gateway went away without ending it (a crash, SIGKILL, a
 * lost host): a session.end marked `recovered` is appended to what was stored, continuing its hash
 * chain, and the chain is sealed over it. `by` is the gateway doing it.
 *
 * Safe against a second gateway doing the same at the same time, and against the session's own
 * gateway still writing (it was only cut off from the database): the end is stored as a chunk at
 * the next seq, which RecordingChunk's unique (sessionId, firstSeq) lets only one writer have;
 * whoever loses reads again. Nothing is written to the session row here: the caller writes the end
 * only if the row is still `active`.
 *
 * When the recording already ends with a session.end, the gateway stored it and went away before
 * writing the row: that recording is complete and is sealed as the gateway would have sealed it,
 * with the status and counters it recorded.
 */
export async function endOrphanedRecording(
  prisma: PrismaClient,
  signer: RecordingSigner,
  session: OrphanedSession,
  by: string,
  reason: string,
): Promise<OrphanedEnd> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const tail = await lastStoredEvent(prisma, session.id);
    if (tail === 'unreadable')
      return { status: 'interrupted', reason, seal: null, recording: 'unreadable', storedSeq: 0 };
    if (tail === null && !(await isRecorded(prisma, session.connectionId))) {
      return { status: 'interrupted', reason, seal: null, recording: 'not-recorded', storedSeq: 0 };
    }
    const last = tail ?? { seq: 0, hash: GENESIS_HASH, kind: '', payload: {} };
    if (last.kind === 'session.end') {
      const seal = signer.seal(session.id, last.seq, last.hash);
      const recovered = recoveredEndOf(last);
      const ended = last.payload as Partial<SessionEndPayload>;
      if (recovered) {
        return {
          status: 'interrupted',
          reason: typeof ended.reason === 'string' ? ended.reason : reason,
          seal,
          recording: 'sealed-interrupted',
          storedSeq: recovered.storedSeq,
        };
      }
      const status = typeof ended.status === 'string' && STATUSES.has(ended.status) ? ended.status : 'interrupted';
      return {
        status: status as SessionStatus,
        reason: typeof ended.reason === 'string' ? ended.reason : reason,
        ...(ended.counters ? { counters: ended.counters } : {}),
        seal,
        recording: 'sealed-ended',
        storedSeq: last.seq,
      };
    }
    const chain = new HashChain(session.id, { seq: last.seq, hash: last.hash });
    const payload = recoveredEndPayload(reason, { gatewayId: session.gatewayId, by, storedSeq: last.seq });
    const encoded = chain.appendEncoded(
      new Date().toISOString(),
      'gateway',
      'session.end',
      encodePayload('session.end', payload),
    );
    const chunk = chunkOf([encoded], []);
    // Times are ISO strings in UTC; the columns are timestamps without zone holding UTC, and the input ignores the Z.
    const inserted = await prisma.$executeRaw`
      INSERT INTO "RecordingChunk" ("sessionId", "firstSeq", "lastSeq", "firstAt", "lastAt", events, "searchText")
      VALUES (${chunk.sessionId}::uuid, ${chunk.firstSeq}, ${chunk.lastSeq}, ${chunk.firstAt}::timestamp,
              ${chunk.lastAt}::timestamp, ${chunk.events as string}, ${chunk.searchText})
      ON CONFLICT ("sessionId", "firstSeq") DO NOTHING`;
    if (inserted === 1) {
      return {
        status: 'interrupted',
        reason,
        seal: signer.seal(session.id, encoded.seq, chain.lastHash),
        recording: 'sealed-interrupted',
        storedSeq: last.seq,
      };
    }
  }
  throw new Error(`session ${session.id}: events kept being stored at the seq its end was to take`);
}

type Tail = Pick<RecordedEvent, 'seq' | 'hash' | 'kind' | 'payload'>;

/**
 * The last event stored for the session (null: none), from the chunk with the highest firstSeq; a
 * chunk that does not parse (it cannot come from a gateway) is `unreadable`: the chain cannot be
 * continued from it.
 */
async function lastStoredEvent(prisma: PrismaClient, sessionId: string): Promise<Tail | null | 'unreadable'> {
  const chunk = await prisma.recordingChunk.findFirst({
    where: { sessionId },
    orderBy: { firstSeq: 'desc' },
    select: { lastSeq: true, events: true },
  });
  if (!chunk) return null;
  let events: unknown;
  try {
    events = JSON.parse(chunk.events);
  } catch {
    return 'unreadable';
  }
  const last = Array.isArray(events) ? (events.at(-1) as Partial<Tail> | undefined) : undefined;
  if (!last || last.seq !== chunk.lastSeq || typeof last.hash !== 'string' || typeof last.kind !== 'string') {
    return 'unreadable';
  }
  return { seq: last.seq, hash: last.hash, kind: last.kind, payload: last.payload ?? {} };
}

/** Whether the connection records its sessions (a session with no stored event may simply not be recorded). */
async function isRecorded(prisma: PrismaClient, connectionId: string): Promise<boolean> {
  const connection = await prisma.connection.findUnique({ where: { id: connectionId }, select: { options: true } });
  return connection ? recordingOptionsOf(connection.options).enabled : true;
}
