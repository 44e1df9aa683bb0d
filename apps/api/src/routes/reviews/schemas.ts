import { Type } from 'typebox';
import { Nullable, Timestamp } from '../../schemas.js';

const Ref = Type.Object({ id: Type.String(), name: Type.String() });
const Status = Type.Enum(['pending', 'approved', 'denied', 'expired', 'cancelled']);
const Kind = Type.Enum(['statement', 'access']);

export const ReviewParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const Grant = Type.Object({
  id: Type.String(),
  identity: Ref,
  connection: Ref,
  reviewId: Nullable(Type.String()),
  startsAt: Timestamp,
  endsAt: Timestamp,
  revokedAt: Nullable(Timestamp),
  active: Type.Boolean({ description: 'Started, not ended, not revoked' }),
});

export const Review = Type.Object({
  id: Type.String(),
  kind: Kind,
  status: Status,
  rule: Nullable(Type.String({ description: 'The review rule that asked for it' })),
  requester: Ref,
  connection: Ref,
  sessionId: Nullable(Type.String()),
  statement: Nullable(Type.String({ description: 'Exactly what would run (statement reviews)' })),
  parameters: Nullable(
    Type.Array(Nullable(Type.Union([Type.String(), Type.Object({ binary: Type.String({ description: 'base64' }) })])), {
      description: 'Bound parameters ($1, $2, ...): text values, null, or binary values in base64',
    }),
  ),
  statementHash: Nullable(Type.String({ description: 'SHA-256 of statement + parameters the approval is bound to' })),
  justification: Nullable(Type.String()),
  accessSeconds: Nullable(Type.Integer({ description: 'Requested access window (access reviews)' })),
  approverGroups: Type.Array(Type.String()),
  requiredApprovals: Type.Integer(),
  approvals: Type.Integer({ description: 'Approvals so far' }),
  allowRequesterGroup: Type.Boolean(),
  decisions: Type.Array(
    Type.Object({
      by: Ref,
      decision: Type.Enum(['approve', 'deny']),
      comment: Nullable(Type.String()),
      at: Timestamp,
    }),
  ),
  grant: Nullable(Grant),
  canDecide: Type.Boolean({ description: 'Whether the caller may approve or deny it now' }),
  url: Type.String({ description: 'Where to approve it in the console' }),
  expiresAt: Timestamp,
  decidedAt: Nullable(Timestamp),
  createdAt: Timestamp,
});

export const ReviewQuery = Type.Object({
  mine: Type.Optional(Type.Boolean({ description: 'Reviews the caller asked for (any status unless `status`)' })),
  all: Type.Optional(Type.Boolean({ description: 'Admins and auditors: every review (any status unless `status`)' })),
  status: Type.Optional(Status),
  kind: Type.Optional(Kind),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

export const DecisionBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);

export const Decided = Type.Object({
  outcome: Type.Enum(['pending', 'approved', 'denied'], {
    description: 'pending: recorded, more approvals needed',
  }),
  review: Review,
});

export const AccessRequestBody = Type.Object(
  {
    connection: Type.String({ minLength: 1, maxLength: 200, description: 'id or name' }),
    durationSeconds: Type.Integer({
      minimum: 60,
      maximum: 30 * 24 * 3600,
      description: "Length of the access window once approved (at most the access_review rule's maxDurationSeconds)",
    }),
    justification: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export const AccessRequestQuery = Type.Object({
  status: Type.Optional(Status),
  mine: Type.Optional(
    Type.Boolean({ description: "Only the caller's own (admins and auditors see everyone's by default)" }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});
