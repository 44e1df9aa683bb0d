import type { Static } from 'typebox';
import type { Principal } from '@warden/access';
import { Prisma, type PrismaClient } from '@warden/db';
import { isUuid } from '../../lookup.js';
import { SESSION_CURSOR, type SESSION_STATUSES, type SessionQuery } from './schemas.js';

interface SessionListRow {
  id: string;
  identityId: string;
  identityName: string;
  connectionId: string;
  connectionName: string;
  protocol: string;
  status: string;
  clientAddr: string | null;
  startedAt: Date;
  endedAt: Date | null;
  statementCount: number;
  blockedCount: number;
  reviewCount: number;
  eventCount: number;
  recordedEvents: number | null;
  bytesIn: bigint;
  bytesOut: bigint;
  sealed: boolean;
}

/**
 * The full-text condition on a session's statements. It must spell the indexed
 * expression exactly (RecordingChunk_search_idx is a GIN index on
 * `to_tsvector('simple', "searchText")`), or Postgres scans every chunk.
 */
export function statementSearch(sessionId: Prisma.Sql, q: string): Prisma.Sql {
  return Prisma.sql`EXISTS (
    SELECT 1 FROM "RecordingChunk" k
    WHERE k."sessionId" = ${sessionId}
      AND to_tsvector('simple', k."searchText") @@ plainto_tsquery('simple', ${q}))`;
}

/** An id-or-name reference to the session's identity or connection, as a parameterized condition. */
function byRef(table: 'identity' | 'connection', ref: string): Prisma.Sql {
  if (table === 'identity') {
    return isUuid(ref) ? Prisma.sql`(i.id = ${ref}::uuid OR i.name = ${ref})` : Prisma.sql`i.name = ${ref}`;
  }
  return isUuid(ref) ? Prisma.sql`(c.id = ${ref}::uuid OR c.name = ${ref})` : Prisma.sql`c.name = ${ref}`;
}

/** Timestamps are stored as UTC without a zone; ISO strings in UTC cast to them exactly. */
const utc = (iso: string) => Prisma.sql`${new Date(iso).toISOString()}::timestamp(3)`;

/**
 * One page of sessions, newest first, with every filter in one parameterized
 * query (values travel as parameters; only fixed SQL text is composed).
 */
export async function listSessions(prisma: PrismaClient, principal: Principal, query: Static<typeof SessionQuery>) {
  const limit = query.limit ?? 50;
  const where: Prisma.Sql[] = [];
  // People with role `user` see their own sessions only; the filter is not optional.
  if (principal.role === 'user') where.push(Prisma.sql`s."identityId" = ${principal.identityId}::uuid`);
  if (query.identity !== undefined) where.push(byRef('identity', query.identity));
  if (query.connection !== undefined) where.push(byRef('connection', query.connection));
  if (query.from !== undefined) where.push(Prisma.sql`s."startedAt" >= ${utc(query.from)}`);
  if (query.to !== undefined) where.push(Prisma.sql`s."startedAt" < ${utc(query.to)}`);
  if (query.status !== undefined) where.push(Prisma.sql`s.status = ${query.status}::"SessionStatus"`);
  if (query.blocked === true) where.push(Prisma.sql`s."blockedCount" > 0`);
  if (query.blocked === false) where.push(Prisma.sql`s."blockedCount" = 0`);
  if (query.q !== undefined) where.push(statementSearch(Prisma.sql`s.id`, query.q));
  const cursor = query.before !== undefined ? SESSION_CURSOR.exec(query.before) : null;
  if (cursor) where.push(Prisma.sql`(s."startedAt", s.id) < (${utc(cursor[1]!)}, ${cursor[2]!}::uuid)`);

  const rows = await prisma.$queryRaw<SessionListRow[]>`
    SELECT s.id::text AS id, i.id::text AS "identityId", i.name AS "identityName",
      c.id::text AS "connectionId", c.name AS "connectionName",
      s.protocol::text AS protocol, s.status::text AS status, s."clientAddr",
      s."startedAt", s."endedAt", s."statementCount", s."blockedCount", s."reviewCount", s."eventCount",
      s."bytesIn", s."bytesOut", s."finalHash" IS NOT NULL AS sealed,
      CASE WHEN s."finalHash" IS NULL THEN (
        SELECT k."lastSeq" FROM "RecordingChunk" k WHERE k."sessionId" = s.id ORDER BY k."firstSeq" DESC LIMIT 1
      ) END AS "recordedEvents"
    FROM "Session" s
    JOIN "Identity" i ON i.id = s."identityId"
    JOIN "Connection" c ON c.id = s."connectionId"
    WHERE ${where.length ? Prisma.join(where, ' AND ') : Prisma.sql`TRUE`}
    ORDER BY s."startedAt" DESC, s.id DESC
    LIMIT ${limit + 1}`;

  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(present),
    nextBefore: rows.length > limit && last ? `${last.startedAt.toISOString()}/${last.id}` : null,
  };
}

function present(row: SessionListRow) {
  return {
    id: row.id,
    identity: { id: row.identityId, name: row.identityName },
    connection: { id: row.connectionId, name: row.connectionName },
    protocol: row.protocol,
    status: row.status as (typeof SESSION_STATUSES)[number],
    clientAddr: row.clientAddr,
    startedAt: row.startedAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    counts: {
      statements: row.statementCount,
      blocked: row.blockedCount,
      reviews: row.reviewCount,
      events: row.sealed ? row.eventCount : (row.recordedEvents ?? 0),
      bytesIn: Number(row.bytesIn),
      bytesOut: Number(row.bytesOut),
    },
    sealed: row.sealed,
  };
}
