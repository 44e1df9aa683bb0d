import { Type } from 'typebox';

export const AuthConfig = Type.Object({
  oidc: Type.Object({
    enabled: Type.Boolean(),
    issuer: Type.Optional(Type.String({ description: 'the identity provider, when enabled' })),
  }),
});

export const LoginQuery = Type.Object(
  {
    return_to: Type.Optional(
      Type.String({
        description:
          'where to land after login: a path on this origin (tokens in the URL fragment) or ' +
          'http://127.0.0.1:<port>/... / http://localhost:<port>/... (a one-time `code` in the query); default /',
      }),
    ),
  },
  { additionalProperties: true },
);

export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export const ExchangeBody = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 512, description: 'the one-time code from the loopback redirect' }) },
  { additionalProperties: false },
);

export const TokenResponse = Type.Object({
  access_token: Type.String({ description: 'a signed JWT; the bearer token for the API and the gateway listeners' }),
  refresh_token: Type.String({ description: 'opaque (`wdr_...`), single use: each refresh returns a new one' }),
  expires_in: Type.Integer({ description: 'seconds until access_token expires' }),
  token_type: Type.Literal('Bearer'),
});

export const Jwks = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) });
