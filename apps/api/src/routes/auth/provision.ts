import { createHash } from 'node:crypto';
import type { Prisma, PrismaClient, Role } from '@warden/db';
import type { OidcConfig } from '@warden/runtime';
import type { VerifiedLogin } from './oidc-client.js';

/** Identity and group names follow the API's Name rule: `^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`. */
export function toName(raw: string): string {
  return raw
    .replace(/[^a-zA-Z0-9._-]+/g, '-')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 63)
    .replace(/[-.]+$/, '');
}

function stringClaim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

/** Providers send the groups claim as an array, or as one space/comma separated string. */
export function groupsFromClaim(value: unknown): string[] {
  const raw = Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : typeof value === 'string'
      ? value.split(/[\s,]+/)
      : [];
  return [...new Set(raw.map(toName).filter(Boolean))].sort();
}

export interface ProvisionedIdentity {
  id: string;
  name: string;
  status: 'active' | 'disabled' | 'blocked';
  role: Role;
  created: boolean;
  groups: string[];
}

/**
 * Finds or creates the person behind a verified login (by issuer and subject, never by
 * e-mail, which some providers let users choose) and synchronises their `oidc` group
 * memberships with the groups claim: missing groups are created, memberships the
 * provider no longer lists are removed, manual memberships are left alone.
 */
export async function provisionOidcIdentity(
  prisma: PrismaClient,
  settings: OidcConfig,
  login: VerifiedLogin,
): Promise<ProvisionedIdentity> {
  const groups = groupsFromClaim(login.claims[settings.groupsClaim]);
  const isAdmin = groups.some((g) => settings.adminGroups.includes(g));
  const email = stringClaim(login.claims, 'email') ?? null;
  const displayName = stringClaim(login.claims, 'name') ?? null;
  return prisma.$transaction(async (tx) => {
    const key = { oidcIssuer: login.issuer, oidcSubject: login.subject };
    let identity = await tx.identity.findUnique({ where: { oidcIssuer_oidcSubject: key } });
    const created = !identity;
    if (!identity) {
      identity = await tx.identity.create({
        data: {
          ...key,
          name: await freeName(tx, login),
          kind: 'user',
          role: isAdmin ? 'admin' : 'user',
          email,
          displayName,
        },
      });
    } else {
      const data: Prisma.IdentityUpdateInput = { email, displayName };
      // Admin groups promote; they never demote an admin someone made by hand.
      if (isAdmin && identity.role !== 'admin') data.role = 'admin';
      identity = await tx.identity.update({ where: { id: identity.id }, data });
    }
    await syncGroups(tx, identity.id, groups);
    return { id: identity.id, name: identity.name, status: identity.status, role: identity.role, created, groups };
  });
}

async function freeName(tx: Prisma.TransactionClient, login: VerifiedLogin): Promise<string> {
  const wanted =
    stringClaim(login.claims, 'preferred_username') ?? stringClaim(login.claims, 'email') ?? `oidc-${login.subject}`;
  const base = toName(wanted) || 'oidc-user';
  // `me` is reserved for /api/users/me.
  const suffix = createHash('sha256').update(`${login.issuer} ${login.subject}`).digest('hex').slice(0, 8);
  for (const candidate of [base, `${base.slice(0, 54)}-${suffix}`]) {
    if (candidate.toLowerCase() === 'me') continue;
    if (!(await tx.identity.findUnique({ where: { name: candidate }, select: { id: true } }))) return candidate;
  }
  return `oidc-${suffix}-${Date.now().toString(36)}`;
}

async function syncGroups(tx: Prisma.TransactionClient, identityId: string, names: string[]) {
  if (names.length) {
    await tx.group.createMany({
      data: names.map((name) => ({ name, description: 'created from the identity provider' })),
      skipDuplicates: true,
    });
  }
  const groups = names.length ? await tx.group.findMany({ where: { name: { in: names } }, select: { id: true } }) : [];
  const groupIds = groups.map((g) => g.id);
  await tx.groupMembership.deleteMany({ where: { identityId, source: 'oidc', groupId: { notIn: groupIds } } });
  // A manual membership of the same group stays manual (skipDuplicates keeps it).
  await tx.groupMembership.createMany({
    data: groupIds.map((groupId) => ({ identityId, groupId, source: 'oidc' as const })),
    skipDuplicates: true,
  });
}
