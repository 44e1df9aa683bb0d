import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { Id, Nullable, Timestamp } from '../../schemas.js';

export const SESSION_STATUSES = ['active', 'closed', 'interrupted', 'killed', 'failed'] as const;
export const SessionStatus = Type.Enum(SESSION_STATUSES);

/** `<startedAt ISO>/<id>` of the last session of a page: the list resumes strictly after it. */
export const SESSION_CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z)\/([0-9a-f-]{36})$/i;

export const SessionQuery = Type.Object(
  {
    identity: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'identity id or name' })),
    connection: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'connection id or name' })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'started at or after (inclusive)' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'started before (exclusive)' })),
    status: Type.Optional(SessionStatus),
    blocked: Type.Optional(
      Type.Boolean({ description: 'true: only sessions with a blocked statement; false: only those without' }),
    ),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 500,
        description: 'full-text search over the statements the session ran (all words must occur)',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    before: Type.Optional(
      Type.String({
        pattern: SESSION_CURSOR.source,
        description: 'cursor: `nextBefore` of the previous page (`<startedAt>/<id>` of its last session)',
      }),
    ),
  },
  { additionalProperties: false },
);

const Ref = Type.Object({ id: Id, name: Type.String() });

export const SessionCounts = Type.Object({
  statements: Type.Integer(),
  blocked: Type.Integer(),
  reviews: Type.Integer(),
  events: Type.Integer({ description: 'events recorded so far (sealed sessions: the sealed count)' }),
  bytesIn: Type.Number({ description: 'bytes from the client' }),
  bytesOut: Type.Number({ description: 'bytes to the client' }),
});

const sessionFields = {
  id: Id,
  identity: Ref,
  connection: Ref,
  protocol: Type.String(),
  status: SessionStatus,
  clientAddr: Nullable(Type.String()),
  startedAt: Timestamp,
  endedAt: Nullable(Timestamp),
  counts: SessionCounts,
  sealed: Type.Boolean({ description: 'whether the recording carries its Ed25519 seal' }),
};

export const SessionItem = Type.Object(sessionFields);

export const SessionPage = Type.Object({
  items: Type.Array(SessionItem),
  nextBefore: Nullable(Type.String({ description: 'pass as `before` for the next page; null on the last page' })),
});

export const Seal = Type.Object({
  finalHash: Type.String(),
  signature: Type.String({ description: 'base64 Ed25519 signature' }),
  signingKeyId: Type.String({ description: 'id of the key in /api/recording-keys' }),
  sealedSeq: Type.Integer({ description: 'seq of the last event the seal covers' }),
  sealedAt: Nullable(Timestamp),
});

export const SessionDetail = Type.Object({
  ...sessionFields,
  agent: Nullable(Ref),
  gatewayId: Nullable(Type.String()),
  clientTls: Type.Boolean(),
  clientUser: Nullable(Type.String()),
  endReason: Nullable(Type.String()),
  maskedCells: Type.Record(Type.String(), Type.Unknown(), { description: 'masked cells per masking rule' }),
  seal: Nullable(Seal),
});

export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const RecordedEvent = Type.Object({
  sessionId: Id,
  seq: Type.Integer({ minimum: 1 }),
  t: Type.String({ description: 'ISO-8601 time with milliseconds' }),
  direction: Type.Enum(['client', 'server', 'gateway']),
  kind: Type.String({ description: 'session.start, query, prepare, execute, result, error, notice, ...' }),
  payload: Type.Unknown({ description: 'the kind-specific payload (packages/recording events.ts)' }),
  prevHash: Type.String(),
  hash: Type.String(),
});

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'return events with seq > after' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })),
  },
  { additionalProperties: false },
);

export const EventsPage = Type.Object({
  events: Type.Array(RecordedEvent),
  nextAfter: Nullable(
    Type.Integer({ description: 'pass as `after` for the next page; null when every stored event was returned' }),
  ),
});

export const LiveQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: 0, description: 'start after this seq (default 0; or the Last-Event-ID header)' }),
    ),
  },
  { additionalProperties: false },
);

export const VerifyReport = Type.Object({
  ok: Type.Boolean(),
  eventCount: Type.Integer(),
  chain: Type.Enum(['intact', 'broken']),
  brokenAt: Type.Optional(
    Type.Object({
      seq: Type.Integer(),
      reason: Type.Enum(['hash-mismatch', 'prev-hash-mismatch', 'seq-gap', 'wrong-session', 'missing-events']),
      detail: Type.String(),
    }),
  ),
  seal: Type.Enum(['valid', 'invalid-signature', 'mismatch', 'missing', 'unsealed', 'no-public-key']),
  sealedAs: Type.Optional(
    Type.Enum(['ended', 'interrupted'], {
      description:
        'present when the seal matches an intact chain: `ended` when the gateway running the session sealed it at its end, ' +
        '`interrupted` when that gateway went away without ending it and a gateway that found the session later ' +
        'sealed what had been stored, under a final session.end saying so',
    }),
  ),
  summary: Type.String(),
});

export const RecordingKey = Type.Object({
  id: Type.String(),
  publicKey: Type.String({ description: 'SPKI PEM of the Ed25519 public key' }),
  createdAt: Timestamp,
});

const PurgeCounts = {
  sessions: Type.Integer({ description: 'sessions deleted' }),
  events: Type.Integer({ description: 'recorded events deleted' }),
  reviewsUnlinked: Type.Integer({ description: 'reviews kept, their link to a deleted session cleared' }),
};

export const PurgeResult = Type.Object({
  ...PurgeCounts,
  connections: Type.Array(
    Type.Object({
      id: Id,
      name: Type.String(),
      retentionDays: Type.Integer(),
      cutoff: Timestamp,
      ...PurgeCounts,
    }),
  ),
});

/**
 * A streamed text body: documented as a string of `contentType` in the OpenAPI
 * document, typed as the stream the handler sends.
 */
export const textBody = (contentType: string, description: string) => ({
  description,
  content: { [contentType]: { schema: Type.Unsafe<Readable>({ type: 'string' }) } },
});
