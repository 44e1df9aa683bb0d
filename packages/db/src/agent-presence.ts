import { Prisma, type PrismaClient } from './generated/client.js';

/**
 * Agent presence, shared by the gateway (which writes it) and the API (which reports it). A
 * gateway replica keeps an AgentPresence row fresh for every agent whose tunnel stream it holds;
 * a row nobody refreshed for STALE_AFTER_INTERVALS refresh intervals belongs to a replica that is
 * gone. An agent is online while it has a fresh row: that stays true when every replica died and
 * nobody was left to mark it offline.
 */
const STALE_AFTER_INTERVALS = 3;

/** The database's clock in UTC, as Prisma stores timestamps: replicas' and the API's clocks may disagree. */
export const DB_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** SQL: true for a presence row's seenAt that is still fresh, for replicas refreshing every `intervalMs`. */
export function freshPresence(seenAt: Prisma.Sql, intervalMs: number): Prisma.Sql {
  return Prisma.sql`${seenAt} > ${DB_NOW} - ${STALE_AFTER_INTERVALS * intervalMs} * interval '1 millisecond'`;
}

/** Ids of the agents some gateway replica holds a stream from now. */
export async function liveAgentIds(prisma: PrismaClient, intervalMs: number): Promise<Set<string>> {
  const rows = await prisma.$queryRaw<{ agentId: string }[]>`
    SELECT DISTINCT "agentId"::text AS "agentId" FROM "AgentPresence"
    WHERE ${freshPresence(Prisma.sql`"seenAt"`, intervalMs)}`;
  return new Set(rows.map((row) => row.agentId));
}
