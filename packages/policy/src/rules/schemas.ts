import { Type, type Static, type TSchema } from 'typebox';
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

export const DenySettingsRule = Type.Object(
  {
    type: Type.Literal('deny_settings'),
    ...common,
    parameters: Type.Array(Glob, {
      minItems: 1,
      description: 'Setting names (globs: role, session_authorization, log_*), as Postgres names them',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Refuse changing these settings: SET, set_config(), function SET clauses, ALTER ROLE/DATABASE/SYSTEM ... SET/RESET (a session RESET back to the startup value is allowed; a set_config() whose name is not a literal is refused)',
  },
);

/** Statement kinds a max_rows_affected rule can limit. */
export const RowLimitedKind = Type.Union([Type.Literal('update'), Type.Literal('delete'), Type.Literal('merge')]);

export const MaxRowsAffectedRule = Type.Object(
  {
    type: Type.Literal('max_rows_affected'),
    ...common,
    limit: Type.Integer({ minimum: 0, description: 'Most rows one statement may change' }),
    kinds: Type.Optional(
      Type.Array(RowLimitedKind, { minItems: 1, description: 'Defaults to update, delete and merge' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Roll back an UPDATE/DELETE/MERGE that changes more rows than the limit (the gateway counts them); refuse such writes where they cannot be counted (WITH, bodies, EXPLAIN ANALYZE, several statements in one string)',
  },
);

/** Built-in shell command detectors (packages/policy/src/shell). */
export const SHELL_DETECTORS = ['recursive_root_delete', 'pipe_to_shell', 'power_off', 'disk_wipe'] as const;

const CommandMatchFields = {
  commands: Type.Optional(
    Type.Array(Glob, {
      minItems: 1,
      description:
        'Program names (globs, matched against the basename of every command of the line, also after sudo/env/xargs and inside $(...))',
    }),
  ),
  pattern: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'JavaScript regular expression over the whole command line',
    }),
  ),
  flags: Type.Optional(Type.String({ pattern: '^[imsu]*$', description: 'Flags of `pattern` (i, m, s, u)' })),
  detect: Type.Optional(
    Type.Array(Type.Enum(SHELL_DETECTORS), {
      minItems: 1,
      description:
        'recursive_root_delete: rm -r of / or /*; pipe_to_shell: a download (curl, wget) piped into an interpreter; power_off: shutdown, reboot, halt, poweroff, init 0/6; disk_wipe: mkfs, dd to a device, wipefs',
    }),
  ),
  interactive: Type.Optional(
    Type.Boolean({
      description:
        'true: the rule also applies to opening an interactive shell (whose keystrokes no rule can read): refused, or held for review',
    }),
  ),
};

const Scripts = Type.Optional(
  Type.Array(Type.String({ minLength: 2, maxLength: 500, pattern: '^/' }), {
    minItems: 1,
    description:
      'Script files (absolute path globs, case-sensitive) that shells and interpreters may run (bash /opt/app/deploy.sh, python3 /opt/app/job.py, awk -f, sed -f): any other script file is code the policy cannot read, refused like inline code',
  }),
);

const Runners = Type.Optional(
  Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^/\\s]+$' }), {
    minItems: 1,
    description:
      'More programs that run other programs (beyond the curated list): a line that runs one is not statically judged and is refused (or held)',
  }),
);

export const DenyCommandsRule = Type.Object(
  { type: Type.Literal('deny_commands'), ...common, ...CommandMatchFields, runners: Runners, scripts: Scripts },
  {
    additionalProperties: false,
    description:
      'SSH: refuse exec commands that match (any of commands, pattern, detect); at least one must be given. Fails closed: a line whose programs cannot be resolved statically is refused too. SQL ignores it.',
  },
);

export const AllowCommandsRule = Type.Object(
  {
    type: Type.Literal('allow_commands'),
    ...common,
    commands: Type.Array(Glob, {
      minItems: 1,
      description:
        'Programs that may run (case-sensitive globs): a bare name matches the program run by name or from /bin, /sbin, /usr/bin, /usr/sbin, /usr/local/bin, /usr/local/sbin; an entry with / matches that path',
    }),
    runners: Runners,
    scripts: Scripts,
  },
  {
    additionalProperties: false,
    description:
      'SSH: exec lines may only run listed programs; a line whose programs cannot all be resolved statically is refused (or held by a review rule). Interactive shells are refused unless a review rule with interactive: true holds them. SQL ignores it.',
  },
);

/** The guardrails SQL statements are checked against (every guardrail type but the shell ones). */
export const SqlGuardrailRule = Type.Union([
  DenyKindsRule,
  RequireWhereRule,
  DenyTablesRule,
  DenyFunctionsRule,
  DenyCopyRule,
  DenyPatternRule,
  ReadOnlyRule,
  DenySettingsRule,
  MaxRowsAffectedRule,
]);

export const GuardrailRule = Type.Union([...SqlGuardrailRule.anyOf, DenyCommandsRule, AllowCommandsRule]);

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

const GroupName = Type.String({ minLength: 1, maxLength: 100 });

/** Who decides a review: shared by statement and access review rules. */
const approvalSettings = {
  approverGroups: Type.Array(GroupName, {
    minItems: 1,
    maxItems: 50,
    description: 'Groups whose members may approve or deny (admins too only when in one of them)',
  }),
  approvals: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 10, description: 'Approvals needed (default 1); one deny decides' }),
  ),
  allowRequesterGroup: Type.Optional(
    Type.Boolean({
      description: "Whether members of the requester's own groups may approve (default true); the requester never can",
    }),
  ),
  requireJustification: Type.Optional(Type.Boolean({ description: 'The requester must say why (default false)' })),
  notify: Type.Optional(
    Type.Object(
      {
        webhookUrl: Type.String({
          format: 'uri',
          pattern: '^https?://',
          maxLength: 2000,
          description: 'Receives a Slack-compatible JSON message for every new review',
        }),
        secret: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 1000,
            description:
              'HMAC-SHA256 key for the X-Warden-Signature header; write-only (sealed at rest, never returned)',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  ),
};

export const ReviewMatch = Type.Object(
  {
    kinds: Type.Optional(
      Type.Array(Glob, { minItems: 1, description: 'Statement kinds (globs, as in deny_kinds; also nested)' }),
    ),
    tables: Type.Optional(
      Type.Array(Glob, { minItems: 1, description: 'Tables referenced (as in deny_tables: `schema.table`, `table`)' }),
    ),
    pattern: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1000,
        description: "JavaScript regular expression over the statement's text",
      }),
    ),
    flags: Type.Optional(Type.String({ pattern: '^[imsu]*$', description: 'Flags of `pattern` (i, m, s, u)' })),
    anyWrite: Type.Optional(
      Type.Boolean({
        description: 'Everything a read_only rule would refuse: writes, DDL, locking reads, side-effecting functions',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Every criterion given must hold (AND); at least one of kinds, tables, pattern, anyWrite: true',
  },
);

export const RequireReviewRule = Type.Object(
  {
    type: Type.Literal('require_review'),
    name: common.name,
    message: Type.Optional(
      Type.String({ minLength: 1, maxLength: 500, description: 'Shown to the client while the statement waits' }),
    ),
    enabled: common.enabled,
    match: ReviewMatch,
    ...approvalSettings,
    timeoutSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 86_400, description: 'How long the statement waits (default 300)' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Hold matching statements until approved (one-time approval bound to the exact statement)',
  },
);

export const AccessReviewRule = Type.Object(
  {
    type: Type.Literal('access_review'),
    name: common.name,
    enabled: common.enabled,
    ...approvalSettings,
    timeoutSeconds: Type.Optional(
      Type.Integer({ minimum: 60, maximum: 604_800, description: 'How long a request waits (default 3600)' }),
    ),
    maxDurationSeconds: Type.Optional(
      Type.Integer({
        minimum: 60,
        maximum: 2_592_000,
        description: 'Longest access window that may be requested (default 30 days)',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Who approves time-boxed access requests (POST /api/access-requests) to the connection',
  },
);

export const CommandReviewMatch = Type.Object(
  {
    ...CommandMatchFields,
    any: Type.Optional(Type.Boolean({ description: 'true: every exec command is held' })),
    dynamic: Type.Optional(
      Type.Boolean({
        description:
          'true: lines whose programs cannot be resolved statically (substitutions, eval, inline code, ...) are held instead of refused',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Any criterion given holds (OR); at least one of commands, pattern, detect, any: true, dynamic: true',
  },
);

export const RequireCommandReviewRule = Type.Object(
  {
    type: Type.Literal('require_command_review'),
    name: common.name,
    message: Type.Optional(
      Type.String({ minLength: 1, maxLength: 500, description: 'Shown to the client while the command waits' }),
    ),
    enabled: common.enabled,
    match: CommandReviewMatch,
    ...approvalSettings,
    timeoutSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 86_400, description: 'How long the command waits (default 300)' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'SSH: hold matching exec commands until approved (one-time approval bound to the exact command)',
  },
);

export const ReviewRule = Type.Union([RequireReviewRule, AccessReviewRule, RequireCommandReviewRule]);

export const PolicyRules = Type.Object(
  {
    guardrails: Type.Optional(Type.Array(GuardrailRule)),
    masking: Type.Optional(MaskingRules),
    reviews: Type.Optional(Type.Array(ReviewRule)),
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
export type DenySettingsRule = Static<typeof DenySettingsRule>;
export type RowLimitedKind = Static<typeof RowLimitedKind>;
export type MaxRowsAffectedRule = Static<typeof MaxRowsAffectedRule>;
export type SqlGuardrailRule = Static<typeof SqlGuardrailRule>;
export type DenyCommandsRule = Static<typeof DenyCommandsRule>;
export type AllowCommandsRule = Static<typeof AllowCommandsRule>;
export type CommandReviewMatch = Static<typeof CommandReviewMatch>;
export type RequireCommandReviewRule = Static<typeof RequireCommandReviewRule>;
export type GuardrailRule = Static<typeof GuardrailRule>;
export type ColumnMaskRule = Static<typeof ColumnMaskRule>;
export type MaskingStrategy = Static<typeof MaskingStrategy>;
export type DetectorId = Static<typeof DetectorId>;
export type DetectorRule = Static<typeof DetectorRule>;
/** Detector id → strategy, the form the agent's masking plan takes. */
export type DetectorStrategies = Partial<Record<DetectorId, MaskingStrategy>>;
export type MaskingRules = Static<typeof MaskingRules>;
export type ReviewMatch = Static<typeof ReviewMatch>;
export type RequireReviewRule = Static<typeof RequireReviewRule>;
export type AccessReviewRule = Static<typeof AccessReviewRule>;
export type ReviewRule = Static<typeof ReviewRule>;
export type PolicyRules = Static<typeof PolicyRules>;

export interface RuleError {
  /** JSON pointer into the rules document (`/guardrails/2/kinds`). */
  path: string;
  message: string;
}

/** Rule schemas by `type`, so an invalid rule is reported against its own type's schema only. */
const RULE_TYPES: Record<'guardrails' | 'reviews', Record<string, TSchema>> = {
  guardrails: Object.fromEntries(GuardrailRule.anyOf.map((r) => [r.properties.type.const, r])),
  reviews: Object.fromEntries(ReviewRule.anyOf.map((r) => [r.properties.type.const, r])),
};

/**
 * Schema validation plus what a schema cannot say (regexes compile, a review rule matches
 * something). Rule names need not be unique (documents merged from several policies may repeat
 * one); a decision names the first rule that matched.
 */
export function validatePolicyRules(
  value: unknown,
): { ok: true; rules: PolicyRules } | { ok: false; errors: RuleError[] } {
  if (!Value.Check(PolicyRules, value)) {
    const errors = schemaErrors(value);
    return { ok: false, errors: errors.length > 0 ? errors : [{ path: '', message: 'invalid policy rules' }] };
  }
  const errors: RuleError[] = [];
  const regex = (path: string, pattern: string, flags: string | undefined) => {
    try {
      new RegExp(pattern, flags ?? '');
    } catch (err) {
      errors.push({ path, message: (err as Error).message });
    }
  };
  const commandMatch = (path: string, match: CommandReviewMatch & { any?: boolean; dynamic?: boolean }) => {
    if (match.pattern !== undefined) regex(`${path}/pattern`, match.pattern, match.flags);
    if (
      !match.commands &&
      match.pattern === undefined &&
      !match.detect &&
      match.any !== true &&
      match.dynamic !== true &&
      match.interactive !== true
    ) {
      errors.push({
        path,
        message:
          'needs at least one of commands, pattern, detect, interactive: true' +
          (path.endsWith('/match') ? ', any: true or dynamic: true' : ''),
      });
    }
  };
  (value.guardrails ?? []).forEach((rule, i) => {
    if (rule.type === 'deny_pattern') regex(`/guardrails/${i}/pattern`, rule.pattern, rule.flags);
    if (rule.type === 'deny_commands') commandMatch(`/guardrails/${i}`, rule);
  });
  (value.reviews ?? []).forEach((rule, i) => {
    if (rule.type === 'require_command_review') commandMatch(`/reviews/${i}/match`, rule.match);
    if (rule.type !== 'require_review') return;
    const { kinds, tables, pattern, flags, anyWrite } = rule.match;
    if (pattern !== undefined) regex(`/reviews/${i}/match/pattern`, pattern, flags);
    if (!kinds && !tables && pattern === undefined && anyWrite !== true) {
      errors.push({
        path: `/reviews/${i}/match`,
        message: 'needs at least one of kinds, tables, pattern or anyWrite: true',
      });
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules: value };
}

/**
 * TypeBox reports a failed union with every branch's complaints; a rule list is a union
 * discriminated by `type`, so each rule is checked against its own type's schema instead, and a
 * missing property is reported at its own path.
 */
function schemaErrors(value: unknown): RuleError[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ path: '', message: 'must be an object' }];
  }
  const doc = value as Record<string, unknown>;
  const errors: RuleError[] = [];
  const rest: Record<string, unknown> = { ...doc };
  for (const section of ['guardrails', 'reviews'] as const) {
    const list = doc[section];
    if (!Array.isArray(list)) continue;
    rest[section] = [];
    const types = RULE_TYPES[section];
    list.forEach((rule: unknown, i) => {
      const type = (rule as { type?: unknown } | null)?.type;
      const schema = typeof type === 'string' ? types[type] : undefined;
      if (!schema) {
        const path = typeof rule === 'object' && rule !== null ? `/${section}/${i}/type` : `/${section}/${i}`;
        errors.push({ path, message: `must be one of: ${Object.keys(types).join(', ')}` });
      } else {
        errors.push(...typeboxErrors(schema, rule, `/${section}/${i}`));
      }
    });
  }
  errors.push(...typeboxErrors(PolicyRules, rest, ''));
  return errors;
}

function typeboxErrors(schema: TSchema, value: unknown, prefix: string): RuleError[] {
  const out: RuleError[] = [];
  for (const e of Value.Errors(schema, value)) {
    const path = prefix + e.instancePath;
    const params = e.params as { requiredProperties?: unknown; additionalProperties?: unknown };
    if (e.keyword === 'required' && Array.isArray(params.requiredProperties)) {
      for (const p of params.requiredProperties) out.push({ path: `${path}/${String(p)}`, message: 'is required' });
    } else if (e.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
      for (const p of params.additionalProperties)
        out.push({ path: `${path}/${String(p)}`, message: 'is not allowed' });
    } else if (e.keyword !== 'boolean') {
      // `boolean`: "schema is false", the echo of an additional property already reported.
      out.push({ path, message: e.message });
    }
  }
  return out;
}
