import type { Principal } from './principal.js';

/** Admins may use every connection; others need one of its allowed groups. */
export function canUseConnection(principal: Principal, connection: { allowedGroups: readonly string[] }): boolean {
  if (principal.role === 'admin') return true;
  return connection.allowedGroups.some((group) => principal.groups.includes(group));
}
