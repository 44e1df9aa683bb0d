import { Type, type TSchema } from 'typebox';

/** Resource names: DNS-label-like, so they work as Postgres database and SSH user names. */
export const Name = Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$', description: 'unique name' });
export const Id = Type.String({ format: 'uuid' });
export const RefParams = Type.Object({ ref: Type.String({ minLength: 1, maxLength: 200, description: 'id or name' }) });
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const Timestamp = Type.String({ format: 'date-time' });

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
});

/** Standard error responses, so the OpenAPI document lists them for every route. */
export function errors(...codes: number[]): Record<number, TSchema> {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody]));
}

export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

/**
 * `T | null`. Null is tried first: with coerceTypes, a union that tries a string
 * branch first would turn a JSON null into "" instead of clearing the field.
 */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([Type.Null(), schema]);
