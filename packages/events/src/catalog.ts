import { Type, type Static, type TSchema } from 'typebox';

/**
 * The event catalog (docs/events.md is its prose). Each type has a version and a TypeBox schema
 * of its `data`; a change that is not purely additive bumps the version. Nothing here carries a
 * secret or an unmasked value: statements are identified by their hash, masking by counts.
 */

const Id = Type.String({ minLength: 1, maxLength: 200 });
const Name = Type.String({ maxLength: 300 });
const Actor = Type.Union([Type.Object({ id: Id, name: Name }), Type.Null()]);
const Protocol = Type.String({ maxLength: 40 });
const Counts = Type.Record(Type.String({ maxLength: 300 }), Type.Integer({ minimum: 0 }));
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const ReviewBase = {
  reviewId: Id,
  kind: Type.Union([Type.Literal('statement'), Type.Literal('access')]),
  rule: Nullable(Name),
};

export const EventCatalog = {
  'session.started': {
    version: 1,
    summary: 'A client session passed authentication and policy and was opened on an agent.',
    data: Type.Object({
      protocol: Protocol,
      clientAddr: Nullable(Type.String({ maxLength: 100 })),
      clientTls: Type.Boolean(),
      agentId: Nullable(Id),
      gatewayId: Name,
    }),
  },
  'session.ended': {
    version: 1,
    summary: 'A session ended (closed, killed, interrupted, failed), with its counters.',
    data: Type.Object({
      protocol: Protocol,
      status: Type.String({ maxLength: 40 }),
      reason: Type.String({ maxLength: 2000 }),
      durationMs: Type.Integer({ minimum: 0 }),
      bytesIn: Type.Integer({ minimum: 0 }),
      bytesOut: Type.Integer({ minimum: 0 }),
      statements: Type.Integer({ minimum: 0 }),
      blocked: Type.Integer({ minimum: 0 }),
      reviews: Type.Integer({ minimum: 0 }),
      maskedCells: Type.Integer({ minimum: 0 }),
    }),
  },
  'statement.blocked': {
    version: 1,
    summary: 'Policy refused a statement (SQLSTATE 42501); it never reached the target.',
    data: Type.Object({
      rule: Name,
      message: Type.String({ maxLength: 2000 }),
      /** SHA-256 (hex) of the statement text: correlate with the recording without copying literals. */
      statementHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      statementLength: Type.Integer({ minimum: 0 }),
      /** For masking blocks: the masked column the statement tried to read around. */
      column: Nullable(Name),
    }),
  },
  'command.blocked': {
    version: 1,
    summary: 'Policy refused an SSH exec command (exit status 126); it never reached the target.',
    data: Type.Object({
      rule: Name,
      message: Type.String({ maxLength: 2000 }),
      /** What kept the policy from judging the line (eval, shell-input, ...), or null for a rule match. */
      construct: Nullable(Type.String({ maxLength: 40 })),
      /** SHA-256 (hex) of the command line: correlate with the recording without copying arguments. */
      commandHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      commandLength: Type.Integer({ minimum: 0 }),
    }),
  },
  'data.masked': {
    version: 1,
    summary: "Cells the agent masked in a session's results: counts per column or detector, never values.",
    data: Type.Object({
      /** `column:<name>` or the detector name → cells masked. */
      cells: Counts,
      total: Type.Integer({ minimum: 0 }),
    }),
  },
  'review.requested': {
    version: 1,
    summary: 'A statement was held for approval, or someone asked for time-boxed access.',
    data: Type.Object({
      ...ReviewBase,
      approverGroups: Type.Array(Name),
      requiredApprovals: Type.Integer({ minimum: 1 }),
      expiresAt: Type.String(),
      statementHash: Nullable(Type.String()),
      accessSeconds: Nullable(Type.Integer()),
    }),
  },
  'review.approved': {
    version: 1,
    summary: 'A review got its last required approval.',
    data: Type.Object({ ...ReviewBase, by: Actor, comment: Nullable(Type.String({ maxLength: 2000 })) }),
  },
  'review.denied': {
    version: 1,
    summary: 'A review was denied.',
    data: Type.Object({ ...ReviewBase, by: Actor, comment: Nullable(Type.String({ maxLength: 2000 })) }),
  },
  'review.expired': {
    version: 1,
    summary: 'Nobody decided a review in time.',
    data: Type.Object({ ...ReviewBase, reason: Nullable(Type.String({ maxLength: 2000 })) }),
  },
  'review.cancelled': {
    version: 1,
    summary: 'A pending review was withdrawn (its session ended, its requester was blocked).',
    data: Type.Object({ ...ReviewBase, reason: Nullable(Type.String({ maxLength: 2000 })) }),
  },
  'identity.blocked': {
    version: 1,
    summary: 'An admin blocked an identity: its tokens stop working, its live sessions end.',
    data: Type.Object({ reason: Type.String({ maxLength: 2000 }), by: Actor, cancelledReviews: Type.Integer() }),
  },
  'identity.unblocked': {
    version: 1,
    summary: 'An admin unblocked an identity.',
    data: Type.Object({ by: Actor }),
  },
  'agent.connected': {
    version: 1,
    summary: 'An agent opened a tunnel stream to a gateway replica.',
    data: Type.Object({
      agent: Type.Object({ id: Id, name: Name }),
      gatewayId: Name,
      version: Nullable(Type.String({ maxLength: 100 })),
      hostname: Nullable(Type.String({ maxLength: 300 })),
      peer: Nullable(Type.String({ maxLength: 300 })),
    }),
  },
  'agent.disconnected': {
    version: 1,
    summary: "An agent's tunnel stream to a gateway replica ended.",
    data: Type.Object({
      agent: Type.Object({ id: Id, name: Name }),
      gatewayId: Name,
      reason: Type.String({ maxLength: 2000 }),
      /** Streams the agent still holds to this replica. */
      remainingConnections: Type.Integer({ minimum: 0 }),
    }),
  },
  'recording.read': {
    version: 1,
    summary: 'Someone read a session or its recording (summary, events, export, transcript, verify, live watch).',
    data: Type.Object({ action: Name, by: Actor, view: Nullable(Name) }),
  },
  'admin.change': {
    version: 1,
    summary: 'A change through the API, as written to the audit log (secrets redacted).',
    data: Type.Object({
      action: Name,
      target: Type.Object({ type: Name, id: Nullable(Type.String()), name: Nullable(Name) }),
      by: Actor,
      ip: Nullable(Type.String({ maxLength: 100 })),
      /** The audit entry's details, secrets already redacted. */
      details: Type.Unknown(),
    }),
  },
} satisfies Record<string, { version: number; summary: string; data: TSchema }>;

export type EventType = keyof typeof EventCatalog;
export type EventData<T extends EventType> = Static<(typeof EventCatalog)[T]['data']>;
export const EVENT_TYPES = Object.keys(EventCatalog) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EventCatalog, value);
}
