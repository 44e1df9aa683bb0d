import { Type } from 'typebox';
import { Id, Name, Timestamp } from '../../schemas.js';

export const GroupBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const GroupPatch = Type.Partial(GroupBody, { additionalProperties: false, minProperties: 1 });

export const Group = Type.Object({
  id: Id,
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  members: Type.Array(Type.Object({ id: Id, name: Type.String(), source: Type.String() })),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const MemberParams = Type.Object({ ref: Type.String(), identity: Type.String() });
