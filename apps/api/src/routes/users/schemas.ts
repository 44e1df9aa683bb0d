import { Type } from 'typebox';
import { Id, Name, Nullable, Timestamp } from '../../schemas.js';

export const Role = Type.Enum(['admin', 'auditor', 'user'], {
  description: 'admin: everything; auditor: reads everything, writes nothing; user: uses connections',
});
export const Kind = Type.Enum(['user', 'service'], {
  description: 'a person, or a machine identity (AI agent, CI job)',
});
export const Status = Type.Enum(['active', 'disabled', 'blocked']);
const Email = Type.String({ format: 'email', maxLength: 254 });
const DisplayName = Type.String({ minLength: 1, maxLength: 200 });
const Groups = Type.Array(Name, { maxItems: 200, description: 'names of existing groups' });

export const UserBody = Type.Object(
  {
    name: Name,
    kind: Type.Optional(Kind),
    role: Type.Optional(Role),
    email: Type.Optional(Email),
    displayName: Type.Optional(DisplayName),
    groups: Type.Optional(Groups),
  },
  { additionalProperties: false },
);

export const UserPatch = Type.Object(
  {
    role: Type.Optional(Role),
    status: Type.Optional(Type.Enum(['active', 'disabled'])),
    email: Type.Optional(Nullable(Email)),
    displayName: Type.Optional(Nullable(DisplayName)),
    groups: Type.Optional(Type.Array(Name, { maxItems: 200, description: 'replaces the manual memberships' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const UserQuery = Type.Object(
  {
    kind: Type.Optional(Kind),
    role: Type.Optional(Role),
    status: Type.Optional(Status),
  },
  { additionalProperties: false },
);

export const User = Type.Object({
  id: Id,
  name: Type.String(),
  kind: Kind,
  role: Role,
  status: Status,
  email: Nullable(Type.String()),
  displayName: Nullable(Type.String()),
  blockedReason: Nullable(Type.String()),
  groups: Type.Array(Type.Object({ id: Id, name: Type.String(), source: Type.Enum(['manual', 'oidc']) })),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
