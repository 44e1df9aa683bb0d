import type { FastifyRequest } from 'fastify';
import type { Prisma, PrismaClient } from '@warden/db';

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

/** Every admin change lands here: who, what, when, from where, secrets redacted. */
export class AuditLog {
  constructor(private readonly prisma: PrismaClient) {}

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
  }
}
