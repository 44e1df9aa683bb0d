import type { PrismaClient } from '@warden/db';
import type { TargetRoleFacts } from '@warden/policy';
import type { Logger } from '@warden/runtime';

/**
 * Keeps each connection's last-reported target role on its row, where the API and console warn
 * about privileges no policy can contain. Written only when the report differs from the last one
 * this gateway wrote, so a connection's sessions do not each cost a write.
 */
export class TargetRoles {
  private readonly lastWritten = new Map<string, string>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {}

  /** Records what a session's agent reported; never fails the session (a lost write only delays a warning). */
  report(connection: { id: string; name: string }, role: TargetRoleFacts): void {
    const value = {
      superuser: role.superuser,
      createRole: role.createRole,
      serverFileRoles: [...role.serverFileRoles].sort(),
    };
    const key = JSON.stringify(value);
    if (this.lastWritten.get(connection.id) === key) return;
    this.lastWritten.set(connection.id, key);
    if (value.superuser || value.serverFileRoles.length > 0) {
      this.logger.warn(
        { connection: connection.name, targetRole: value },
        'the target role holds privileges no statement policy can contain (superuser or server-file roles); use a least-privilege role',
      );
    }
    this.prisma.connection
      .update({ where: { id: connection.id }, data: { targetRole: value, targetRoleAt: new Date() } })
      .catch((err: unknown) => {
        this.lastWritten.delete(connection.id);
        this.logger.warn({ err, connection: connection.name }, 'could not store the target role report');
      });
  }
}
