import { Type } from 'typebox';
import type { Prisma } from '@warden/db';
import { EVENT_TYPES, isEventType, orderedEnvelope } from '@warden/events';
import { badRequest } from '../../errors.js';
import { requireRole } from '../../plugins/auth.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';

const Envelope = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    version: Type.Integer(),
    time: Type.String(),
    identity: Type.Union([
      Type.Null(),
      Type.Object({ id: Type.String(), name: Type.Union([Type.Null(), Type.String()]) }),
    ]),
    connection: Type.Union([
      Type.Null(),
      Type.Object({ id: Type.String(), name: Type.Union([Type.Null(), Type.String()]) }),
    ]),
    session: Type.Union([Type.Null(), Type.Object({ id: Type.String() })]),
    data: Type.Unknown(),
  },
  { description: 'The event envelope (docs/events.md)' },
);

const Types = Type.String({
  maxLength: 2000,
  description: `comma-separated catalog types (${EVENT_TYPES.join(', ')}); absent = all`,
});
const Uuid = Type.String({ format: 'uuid' });

const ListQuery = Type.Object({
  types: Type.Optional(Types),
  session: Type.Optional(Uuid),
  identity: Type.Optional(Uuid),
  connection: Type.Optional(Uuid),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'nextCursor of the previous page' })),
});

function parseTypes(raw: string | undefined): string[] | null {
  if (!raw) return null;
  const types = raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const unknown = types.filter((t) => !isEventType(t));
  if (unknown.length)
    throw badRequest('unknown event type', [
      { field: 'querystring.types', message: `not in the catalog: ${unknown.join(', ')}` },
    ]);
  return types;
}

/**
 * The catalog's read side for admins and auditors: a paginated list (newest first) and a
 * Server-Sent Events stream of new events (docs/events.md, "Server-Sent Events").
 */
export async function eventRoutes(app: ApiInstance) {
  const { prisma } = app.services;
  const readers = { preHandler: requireRole('admin', 'auditor') };
  const tags = ['events'];

  app.get(
    '/',
    {
      ...readers,
      schema: {
        tags,
        summary: 'Catalog events, newest first',
        querystring: ListQuery,
        response: {
          200: Type.Object({ events: Type.Array(Envelope), nextCursor: Type.Union([Type.Null(), Type.String()]) }),
          ...errors(400, 403),
        },
      },
    },
    async (req) => {
      const { session, identity, connection, cursor } = req.query;
      const limit = req.query.limit ?? 100;
      const types = parseTypes(req.query.types);
      const where: Prisma.EventWhereInput = {
        ...(types ? { type: { in: types } } : {}),
        ...(session ? { sessionId: session } : {}),
        ...(identity ? { identityId: identity } : {}),
        ...(connection ? { connectionId: connection } : {}),
        ...(cursor ? { seq: { lt: BigInt(cursor) } } : {}),
      };
      const rows = await prisma.event.findMany({ where, orderBy: { seq: 'desc' }, take: limit + 1 });
      const page = rows.slice(0, limit);
      return {
        events: page.map((r) => orderedEnvelope(r.envelope)),
        nextCursor: rows.length > limit ? String(page.at(-1)!.seq) : null,
      };
    },
  );

  app.get(
    '/stream',
    {
      ...readers,
      schema: {
        tags,
        summary:
          'Server-Sent Events: `event: <type>`, `id: <event id>`, `data: <envelope>`; resumes after Last-Event-ID',
        querystring: Type.Object({ types: Type.Optional(Types) }),
        response: { ...errors(400, 403) },
      },
    },
    async (req, reply) => {
      const types = parseTypes(req.query.types);
      const header = req.headers['last-event-id'];
      reply.hijack();
      await app.eventStream.open(reply.raw, {
        types,
        lastEventId: typeof header === 'string' ? header.trim() : undefined,
      });
    },
  );
}
