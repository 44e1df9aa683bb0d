import { Type } from 'typebox';
import { Id, Name, Nullable, Timestamp } from '../../schemas.js';

export const AgentBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const AgentPatch = Type.Object(
  { description: Nullable(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);

const NullableString = Nullable(Type.String());
const NullableTimestamp = Nullable(Timestamp);

export const Agent = Type.Object({
  id: Id,
  name: Type.String(),
  description: NullableString,
  status: Type.Enum(['online', 'offline']),
  version: NullableString,
  hostname: NullableString,
  lastSeenAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
  keyPrefix: Type.String({ description: 'first characters of the key, to recognise it' }),
  connectionCount: Type.Integer({ description: 'connections this agent serves' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** The agent key is shown here once; only its hash is stored. */
export const AgentWithKey = Type.Object({
  agent: Agent,
  key: Type.String({ description: 'the agent key (`wda_...`), shown only in this response' }),
});
