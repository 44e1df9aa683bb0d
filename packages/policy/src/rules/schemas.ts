import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Rule JSON schemas. The API validates request bodies with these same definitions, and
 * {@link compilePolicy} checks its input against them too. Documented in packages/policy/README.md.
 */

/** `*` any run of characters, `?` one character; case-insensitive; everything else literal. */
const Glob = Type.String({ minLength: 1, maxLength: 200, description: 'glob: * and ? wildcards, case-insensitive' });

const common = {
  name: Type.String({ minLength: 1, maxLength: 100, description: 'Named in block decisions and error messages' }),
  message: Type.Optional(
    Type.String({ minLength: 1, maxLength: 500, description: 'Shown to the client when the rule blocks' }),
  ),
  enabled: Type.Optional(Type.Boolean({ description: 'Defaults to true' })),
};

export const DenyKindsRule = Type.Object(
  {
    type: Type.Literal('deny_kinds'),
    ...common,
    kinds: Type.Array(Glob, { minItems: 1, description: 'Statement kinds (globs: drop, alter*, create_role)' }),
  },
  {
    additionalProperties: false,
    description: 'Refuse statements of these kinds, also when nested (CTE, EXPLAIN, body)',
  },
);

export const RequireWhereRule = Type.Object(
  {
    type: Type.Literal('require_where'),
    ...common,
    kinds: Type.Optional(
      Type.Array(Type.Union([Type.Literal('update'), Type.Literal('delete')]), {
        minItems: 1,
        description: 'Defaults to both',
      }),
    ),
  },
  { additionalProperties: false, description: 'Refuse UPDATE/DELETE without a WHERE that references a column' },
);

export const DenyTablesRule = Type.Object(
  {
    type: Type.Literal('deny_tables'),
    ...common,
    tables: Type.Array(Glob, {
      minItems: 1,
      description: '`schema.table` or `table` (any schema); `audit.*` denies a whole schema',
    }),
    searchPath: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Schemas an unqualified table name is assumed to be in (default ["public"])',
      }),
    ),
  },
  { additionalProperties: false, description: 'Refuse statements that reference these tables or schemas' },
);

export const DenyFunctionsRule = Type.Object(
  {
    type: Type.Literal('deny_functions'),
    ...common,
    functions: Type.Array(Glob, { minItems: 1, description: '`name` (any schema) or `schema.name` globs' }),
    denyOpaqueCode: Type.Optional(
      Type.Boolean({
        description: 'Also refuse code the policy cannot see into (dynamic EXECUTE, non-SQL languages); default true',
      }),
    ),
  },
  { additionalProperties: false, description: 'Refuse statements that call these functions' },
);

export const CopyForm = Type.Union([
  Type.Literal('program'),
  Type.Literal('file'),
  Type.Literal('stdin'),
  Type.Literal('stdout'),
]);

export const DenyCopyRule = Type.Object(
  {
    type: Type.Literal('deny_copy'),
    ...common,
    forms: Type.Array(CopyForm, {
      minItems: 1,
      description: 'program: TO/FROM PROGRAM; file: TO/FROM a server file; stdin/stdout: client COPY',
    }),
  },
  { additionalProperties: false, description: 'Refuse COPY forms' },
);

export const DenyPatternRule = Type.Object(
  {
    type: Type.Literal('deny_pattern'),
    ...common,
    pattern: Type.String({ minLength: 1, maxLength: 1000, description: 'JavaScript regular expression' }),
    flags: Type.Optional(Type.String({ pattern: '^[imsu]*$', description: 'Regular expression flags (i, m, s, u)' })),
  },
  { additionalProperties: false, description: "Refuse statements whose text matches (each statement's own text)" },
);

export const ReadOnlyRule = Type.Object(
  {
    type: Type.Literal('read_only'),
    ...common,
    sideEffectFunctions: Type.Optional(
      Type.Array(Glob, { description: 'More functions to treat as side-effecting, added to the built-in list' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Refuse writes, DDL, locking reads and side-effecting functions',
  },
);

export const GuardrailRule = Type.Union([
  DenyKindsRule,
  RequireWhereRule,
  DenyTablesRule,
  DenyFunctionsRule,
  DenyCopyRule,
  DenyPatternRule,
  ReadOnlyRule,
]);

/** Masking strategies the agent implements (@warden/masking). */
export const MASKING_STRATEGIES = ['redact', 'last4', 'domain', 'hash'] as const;

/** Value detectors the agent implements (@warden/masking), by stable id. */
export const DETECTOR_IDS = [
  'email',
  'credit_card',
  'us_ssn',
  'phone',
  'iban',
  'ipv4',
  'ipv6',
  'jwt',
  'aws_access_key_id',
  'bearer_token',
  'api_key',
  'pem_private_key',
] as const;

export const MaskingStrategy = Type.Enum(MASKING_STRATEGIES, {
  description: 'redact: [REDACTED]; last4: keep the last 4; domain: keep an email domain; hash: keyed, deterministic',
});

/** An identifier as Postgres reads it: unquoted (folded to lower case) or "quoted" ("" escapes a quote). */
const IDENT = '("([^"]|"")+"|[^."\\s]+)';

export const ColumnMaskRule = Type.Object(
  {
    column: Type.String({
      pattern: `^${IDENT}(\\.${IDENT}){1,2}$`,
      description: '`schema.table.column`, or `table.column` for schema public; "quote" names that need it',
    }),
    strategy: MaskingStrategy,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Named in counters and messages' })),
  },
  { additionalProperties: false },
);

export const DetectorId = Type.Enum(DETECTOR_IDS, { description: 'Value detector id (@warden/masking)' });

export const DetectorRule = Type.Object(
  { detector: DetectorId, strategy: MaskingStrategy },
  { additionalProperties: false, description: 'Applied by the agent to every text cell' },
);

export const MaskingRules = Type.Object(
  {
    columns: Type.Optional(Type.Array(ColumnMaskRule)),
    detectors: Type.Optional(Type.Array(DetectorRule)),
    protectCatalogs: Type.Optional(
      Type.Boolean({
        description:
          'With column rules: refuse statistics views (pg_stats...) and functions that run SQL from a string (query_to_xml...); default true',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PolicyRules = Type.Object(
  {
    guardrails: Type.Optional(Type.Array(GuardrailRule)),
    masking: Type.Optional(MaskingRules),
  },
  { additionalProperties: false },
);

export type DenyKindsRule = Static<typeof DenyKindsRule>;
export type RequireWhereRule = Static<typeof RequireWhereRule>;
export type DenyTablesRule = Static<typeof DenyTablesRule>;
export type DenyFunctionsRule = Static<typeof DenyFunctionsRule>;
export type CopyForm = Static<typeof CopyForm>;
export type DenyCopyRule = Static<typeof DenyCopyRule>;
export type DenyPatternRule = Static<typeof DenyPatternRule>;
export type ReadOnlyRule = Static<typeof ReadOnlyRule>;
export type GuardrailRule = Static<typeof GuardrailRule>;
export type ColumnMaskRule = Static<typeof ColumnMaskRule>;
export type MaskingStrategy = Static<typeof MaskingStrategy>;
export type DetectorId = Static<typeof DetectorId>;
export type DetectorRule = Static<typeof DetectorRule>;
/** Detector id → strategy, the form the agent's masking plan takes. */
export type DetectorStrategies = Partial<Record<DetectorId, MaskingStrategy>>;
export type MaskingRules = Static<typeof MaskingRules>;
export type PolicyRules = Static<typeof PolicyRules>;

export interface RuleError {
  /** JSON pointer into the rules document (`/guardrails/2/kinds`). */
  path: string;
  message: string;
}

/**
 * Schema validation plus what a schema cannot say (regexes compile). Rule names need not be unique
 * (documents merged from several policies may repeat one); a block names the first rule that matched.
 */
export function validatePolicyRules(
  value: unknown,
): { ok: true; rules: PolicyRules } | { ok: false; errors: RuleError[] } {
  if (!Value.Check(PolicyRules, value)) {
    const errors = Value.Errors(PolicyRules, value).map((e) => ({ path: e.instancePath, message: e.message }));
    return { ok: false, errors: errors.length > 0 ? errors : [{ path: '', message: 'invalid policy rules' }] };
  }
  const errors: RuleError[] = [];
  (value.guardrails ?? []).forEach((rule, i) => {
    if (rule.type === 'deny_pattern') {
      try {
        new RegExp(rule.pattern, rule.flags ?? '');
      } catch (err) {
        errors.push({ path: `/guardrails/${i}/pattern`, message: (err as Error).message });
      }
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules: value };
}
