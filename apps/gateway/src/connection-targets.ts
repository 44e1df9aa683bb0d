import type { Connection, PrismaClient } from '@warden/db';
import type { PostgresTarget, SecretSource, SslMode } from '@warden/proto';
import type { SecretBox } from '@warden/runtime';

type StoredSecret = { source: 'env' | 'file'; ref: string } | { source: 'stored'; ciphertext: string };

export type ConnectionWithAgent = Connection & { agent: { id: string; name: string } };

/**
 * Turns a connection row into what its agent needs. References travel as they are
 * (the agent resolves them); stored secrets are unsealed here, only to cross the
 * tunnel, and are never logged.
 */
export class ConnectionTargets {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly secretBox: SecretBox,
  ) {}

  find(name: string): Promise<ConnectionWithAgent | null> {
    return this.prisma.connection.findUnique({
      where: { name },
      include: { agent: { select: { id: true, name: true } } },
    });
  }

  secret(connection: Connection, field: string): SecretSource | undefined {
    const stored = (connection.secrets as Record<string, StoredSecret | undefined>)[field];
    if (!stored) return undefined;
    if (stored.source === 'stored') return { source: 'value', value: this.secretBox.open(stored.ciphertext, field) };
    return { source: stored.source, ref: stored.ref };
  }

  postgres(connection: Connection): PostgresTarget {
    const config = connection.config as Record<string, unknown>;
    const password = this.secret(connection, 'password');
    return {
      host: String(config.host),
      port: Number(config.port ?? 5432),
      database: String(config.database),
      user: String(config.user),
      sslmode: (config.sslmode as SslMode | undefined) ?? 'prefer',
      ...(typeof config.sslrootcert === 'string' ? { sslrootcert: config.sslrootcert } : {}),
      ...(typeof config.require_auth === 'string' ? { requireAuth: config.require_auth } : {}),
      ...(password ? { password } : {}),
    };
  }
}
