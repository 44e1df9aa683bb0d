import { Type } from 'typebox';
import { Id, Name, Timestamp } from '../../schemas.js';

export const POLICY_KINDS = ['guardrail', 'masking', 'review'] as const;

// `rules` is checked per kind against @warden/policy's own schemas in the handler,
// so a bad rule is reported as `body.rules.<path>` with the policy engine's message.
const Rules = Type.Record(Type.String(), Type.Unknown(), {
  description: 'rules for this kind; see packages/policy/README.md',
});

export const PolicyBody = Type.Object(
  {
    name: Name,
    kind: Type.Enum(POLICY_KINDS),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    rules: Rules,
    connections: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

export const PolicyPatch = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Optional(Type.Boolean()),
    rules: Type.Optional(Rules),
    connections: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Policy = Type.Object({
  id: Id,
  name: Type.String(),
  kind: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  enabled: Type.Boolean(),
  rules: Type.Record(Type.String(), Type.Unknown()),
  version: Type.Integer(),
  connections: Type.Array(Type.Object({ id: Id, name: Type.String() })),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
