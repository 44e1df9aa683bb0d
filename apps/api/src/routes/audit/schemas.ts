import { Type } from 'typebox';
import { Nullable, Pagination, Timestamp } from '../../schemas.js';

export const AuditQuery = Type.Object(
  {
    action: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: 'exact action, or a prefix ending in * (`connection.*`)',
      }),
    ),
    targetType: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'actor id or name' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
    ...Pagination.properties,
  },
  { additionalProperties: false },
);

const NullableString = Nullable(Type.String());

export const AuditItem = Type.Object({
  id: Type.String({ description: 'a 64-bit sequence number, as a string' }),
  at: Timestamp,
  actor: Type.Object({ id: NullableString, name: NullableString }),
  action: Type.String(),
  target: Type.Object({ type: Type.String(), id: NullableString, name: NullableString }),
  details: Type.Unknown(),
  ip: NullableString,
  userAgent: NullableString,
});

export const AuditPage = Type.Object({
  items: Type.Array(AuditItem),
  total: Type.Integer({ description: 'entries matching the filters, before limit/offset' }),
});
