import type { Prisma } from '@warden/db';
import { isUuid } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { AuditPage, AuditQuery } from './schemas.js';

type AuditRow = Prisma.AuditEntryGetPayload<object>;

function present(entry: AuditRow) {
  return {
    id: entry.id.toString(),
    at: entry.at.toISOString(),
    actor: { id: entry.actorId, name: entry.actorName },
    action: entry.action,
    target: { type: entry.targetType, id: entry.targetId, name: entry.targetName },
    details: entry.details,
    ip: entry.ip,
    userAgent: entry.userAgent,
  };
}

/** The audit log: every admin change, newest first. Admins and auditors only. */
export async function auditRoutes(app: ApiInstance) {
  const { prisma } = app.services;

  app.get(
    '/',
    {
      preValidation: requireRole('admin', 'auditor'),
      schema: {
        tags: ['audit'],
        summary: 'Search the audit log',
        querystring: AuditQuery,
        response: { 200: AuditPage, ...errors(400, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      const where: Prisma.AuditEntryWhereInput = {};
      if (q.action !== undefined) {
        where.action = q.action.endsWith('*') ? { startsWith: q.action.slice(0, -1) } : q.action;
      }
      if (q.targetType !== undefined) where.targetType = q.targetType;
      if (q.targetId !== undefined) where.targetId = q.targetId;
      if (q.actor !== undefined) {
        where.OR = isUuid(q.actor) ? [{ actorId: q.actor }, { actorName: q.actor }] : [{ actorName: q.actor }];
      }
      if (q.since !== undefined || q.until !== undefined) {
        where.at = {
          ...(q.since !== undefined ? { gte: new Date(q.since) } : {}),
          ...(q.until !== undefined ? { lt: new Date(q.until) } : {}),
        };
      }
      const [items, total] = await Promise.all([
        prisma.auditEntry.findMany({
          where,
          orderBy: [{ at: 'desc' }, { id: 'desc' }],
          take: q.limit ?? 100,
          skip: q.offset ?? 0,
        }),
        prisma.auditEntry.count({ where }),
      ]);
      return { items: items.map(present), total };
    },
  );
}
