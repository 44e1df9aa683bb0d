import { Type } from 'typebox';
import { Id, Nullable, Timestamp } from '../../schemas.js';

export const ApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'unique per identity, e.g. "ci" or "laptop"' }),
    identity: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'id or name of the owner (admins only); default: the caller',
      }),
    ),
    expiresAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'must be in the future; default: never' }),
    ),
  },
  { additionalProperties: false },
);

export const ApiKeyQuery = Type.Object(
  { identity: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'owner id or name' })) },
  { additionalProperties: false },
);

const NullableTimestamp = Nullable(Timestamp);

export const ApiKey = Type.Object({
  id: Id,
  name: Type.String(),
  prefix: Type.String({ description: 'first characters of the token, to recognise it' }),
  identity: Type.Object({ id: Id, name: Type.String() }),
  expiresAt: NullableTimestamp,
  createdAt: Timestamp,
  lastUsedAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
});

/** The token is shown here once; only its SHA-256 is stored. */
export const ApiKeyWithToken = Type.Object({
  apiKey: ApiKey,
  token: Type.String({ description: 'the bearer token (`wdn_...`), shown only in this response' }),
});
