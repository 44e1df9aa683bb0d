import type { FastifyRequest } from 'fastify';
import type { Prisma, PrismaClient } from '@warden/db';
import { EventPublisher } from '@warden/events';

/** Field names whose values never reach the audit log, at any depth. */
const SECRET_FIELD = /pass(word)?|secret|token|key$|private|credential|authorization|cookie/i;

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) && v != null ? '[redacted]' : redactSecrets(v)]),
    );
  }
  return value;
}

export interface AuditTarget {
  type: string;
  id?: string | null;
  name?: string | null;
}

/** Audited reads of a session or its recording ("who watched"): catalog event recording.read. */
const RECORDING_READS = new Set([
  'session.read',
  'session.export',
  'session.transcript',
  'session.verify',
  'session.watch',
]);

/**
 * Every admin change lands here: who, what, when, from where, secrets redacted. Each entry is
 * also a catalog event: recording.read for the reads above, admin.change for everything else.
 */
export class AuditLog {
  /** The observability plugin gives it the bus. */
  readonly events: EventPublisher;

  constructor(private readonly prisma: PrismaClient) {
    this.events = new EventPublisher(prisma);
  }

  async record(request: FastifyRequest, action: string, target: AuditTarget, details: unknown = {}): Promise<void> {
    await this.prisma.auditEntry.create({
      data: {
        actorId: request.principal?.identityId ?? null,
        actorName: request.principal?.name ?? null,
        action,
        targetType: target.type,
        targetId: target.id ?? null,
        targetName: target.name ?? null,
        // Through JSON so undefined fields drop out and dates become strings.
        details: JSON.parse(JSON.stringify(redactSecrets(details) ?? {})) as Prisma.InputJsonValue,
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
      },
    });
    await this.announce(request, action, target, details);
  }

  /**
   * The catalog event of an audit entry that was written elsewhere, in the transaction of the
   * change it records (the retention purge), so that entry and change commit together.
   */
  async announce(request: FastifyRequest, action: string, target: AuditTarget, details: unknown = {}): Promise<void> {
    const by = request.principal ? { id: request.principal.identityId, name: request.principal.name } : null;
    if (RECORDING_READS.has(action) && target.id) {
      const view = (details as { view?: unknown } | null)?.view;
      await this.events.emit(
        'recording.read',
        { identity: by, session: { id: target.id } },
        { action, by, view: typeof view === 'string' ? view : null },
      );
      return;
    }
    await this.events.emit(
      'admin.change',
      { identity: by },
      {
        action,
        target: { type: target.type, id: target.id ?? null, name: target.name ?? null },
        by,
        ip: request.ip ?? null,
        details: JSON.parse(JSON.stringify(redactSecrets(details) ?? {})) as unknown,
      },
    );
  }
}
