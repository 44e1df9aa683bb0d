import { Type } from 'typebox';
import { Nullable, Timestamp } from '../../schemas.js';

/**
 * What the agent last reported about the role it logs in to a Postgres target as. These
 * privileges reach past anything a statement policy can see (server files, programs, other
 * roles), so the API and the console warn about them wherever the connection is shown.
 */
export const TargetRole = Type.Object({
  superuser: Type.Boolean(),
  createRole: Type.Boolean(),
  serverFileRoles: Type.Array(Type.String(), {
    description: 'pg_read_server_files, pg_write_server_files, pg_execute_server_program memberships',
  }),
  reportedAt: Timestamp,
});

export const TargetRoleField = Nullable(TargetRole);

interface StoredRole {
  superuser?: unknown;
  createRole?: unknown;
  serverFileRoles?: unknown;
}

/** The stored report as the API shows it; null when no session has reported one yet. */
export function presentTargetRole(stored: unknown, reportedAt: Date | null) {
  if (!stored || typeof stored !== 'object' || !reportedAt) return null;
  const role = stored as StoredRole;
  return {
    superuser: role.superuser === true,
    createRole: role.createRole === true,
    serverFileRoles: Array.isArray(role.serverFileRoles)
      ? role.serverFileRoles.filter((r): r is string => typeof r === 'string')
      : [],
    reportedAt: reportedAt.toISOString(),
  };
}

/** Plain-language warnings for a connection whose target role holds privileges no policy contains. */
export function targetRoleWarnings(role: ReturnType<typeof presentTargetRole>, masked: boolean): string[] {
  if (!role) return [];
  const warnings: string[] = [];
  if (role.superuser) {
    warnings.push(
      'the agent logs in to the target as a superuser: it can read and write any server file, run programs and change any setting, which no statement policy can fully contain; use a least-privilege role',
    );
  }
  for (const r of role.serverFileRoles) {
    warnings.push(`the target role is a member of ${r}, which reaches the server's files or programs past policy`);
  }
  if (role.createRole)
    warnings.push('the target role has CREATEROLE: it can create roles and grant itself their privileges');
  if (masked && (role.superuser || role.serverFileRoles.length > 0)) {
    warnings.push(
      'column masking on a privileged target role needs the connection option allowPrivilegedTargetWithMasking; masked values can be read through server files a policy never sees',
    );
  }
  return warnings;
}

export const Warnings = Type.Array(Type.String(), {
  description: 'what an admin should know about this connection (e.g. a privileged target role)',
});
