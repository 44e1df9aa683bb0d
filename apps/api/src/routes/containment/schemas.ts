import { Type } from 'typebox';
import { Nullable, Timestamp } from '../../schemas.js';

export const IdentityParams = Type.Object({
  ref: Type.String({ minLength: 1, maxLength: 200, description: 'id or name' }),
});
export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const BlockBody = Type.Object(
  {
    reason: Type.String({
      minLength: 1,
      maxLength: 500,
      description: 'Shown to the identity’s clients as they are disconnected',
    }),
  },
  { additionalProperties: false },
);

export const KillBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) },
  { additionalProperties: false },
);

export const ContainedIdentity = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Enum(['user', 'service']),
  role: Type.Enum(['admin', 'auditor', 'user']),
  status: Type.Enum(['active', 'disabled', 'blocked']),
  blockedReason: Nullable(Type.String()),
  /** Pending reviews the identity had asked for, cancelled by the block. */
  cancelledReviews: Type.Integer(),
  updatedAt: Timestamp,
});

export const KillRequested = Type.Object({
  id: Type.String(),
  status: Type.String({ description: 'Still active: the gateway holding the session ends it (status killed)' }),
  reason: Type.String(),
});
