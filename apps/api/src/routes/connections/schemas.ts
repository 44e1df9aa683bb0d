import { Type, type Static, type TObject, type TSchema } from 'typebox';
import { Id, Name, Nullable, Timestamp } from '../../schemas.js';
import { requireAuthDescription } from './require-auth.js';
import { TargetRoleField, Warnings } from './target-role.js';

export const CONNECTION_TYPES = ['postgres', 'ssh', 'http'] as const;
export type ConnectionTypeName = (typeof CONNECTION_TYPES)[number];
export const ConnectionType = Type.Enum(CONNECTION_TYPES);

// ---------------------------------------------------------------------------
// Per-type target settings. Validated in the handler (not by the route schema) so a
// bad field is reported precisely as `body.config.<field>` for the declared type.

const Host = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[^\\s/]+$',
  description: 'host name or IP address as seen from the agent',
});
const Port = (fallback: number) => Type.Integer({ minimum: 1, maximum: 65535, default: fallback });

/**
 * A write-only credential: `env:NAME` or `file:/path` are references the agent
 * resolves in its own environment; any other value is stored encrypted.
 */
export const SecretInput = Type.String({
  minLength: 1,
  maxLength: 65536,
  description: 'write-only: `env:NAME`, `file:/absolute/path`, or a literal value stored encrypted',
});

export const PostgresConfig = Type.Object(
  {
    host: Host,
    port: Type.Optional(Port(5432)),
    database: Type.String({ minLength: 1, maxLength: 63 }),
    user: Type.String({ minLength: 1, maxLength: 63 }),
    password: Type.Optional(SecretInput),
    sslmode: Type.Optional(Type.Enum(['disable', 'prefer', 'require', 'verify-full'], { default: 'prefer' })),
    sslrootcert: Type.Optional(
      Type.String({ minLength: 1, maxLength: 65536, description: 'a PEM certificate or a `file:/path` reference' }),
    ),
    // Checked further in applyConfig (require-auth.ts), so an unknown method is named.
    require_auth: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: requireAuthDescription })),
  },
  { additionalProperties: false },
);

export const SshConfig = Type.Object(
  {
    host: Host,
    port: Type.Optional(Port(22)),
    user: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.Optional(SecretInput),
    privateKey: Type.Optional(SecretInput),
    passphrase: Type.Optional(SecretInput),
    hostKeyFingerprint: Type.Optional(
      Type.String({ pattern: '^SHA256:[A-Za-z0-9+/]{43}=?$', description: 'as printed by `ssh-keygen -lf`' }),
    ),
    knownHosts: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: 'known_hosts lines' })),
  },
  { additionalProperties: false },
);

export const HttpConfig = Type.Object(
  {
    url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 }),
    authorization: Type.Optional(SecretInput),
    headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 8192 }))),
  },
  { additionalProperties: false },
);

export interface ConnectionTypeSpec {
  schema: TObject;
  /** Fields that are credentials: write-only, kept in Connection.secrets, never in config. */
  secrets: readonly string[];
  /** Applied to config for fields left out. */
  defaults: Record<string, unknown>;
}

export const connectionTypes: Record<ConnectionTypeName, ConnectionTypeSpec> = {
  postgres: { schema: PostgresConfig, secrets: ['password'], defaults: { port: 5432, sslmode: 'prefer' } },
  ssh: { schema: SshConfig, secrets: ['password', 'privateKey', 'passphrase'], defaults: { port: 22 } },
  http: { schema: HttpConfig, secrets: ['authorization'], defaults: {} },
};

// ---------------------------------------------------------------------------
// Request and response bodies.

const JsonObject = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });

/**
 * `options.recording`: what the gateway keeps of a connection's sessions and for how
 * long. Validated by the route schema, so a bad value is a 400 on
 * `body.options.recording.<field>`. A PATCH replaces the whole object (options merge
 * one level deep); `recording: null` restores the defaults. Defaults are documented,
 * not stored: the gateway applies them (apps/gateway recording-options.ts).
 */
export const RecordingOptions = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'record sessions (default true)' })),
    maxRows: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100_000,
        description: 'result rows captured per statement (default 100; row counts are always exact)',
      }),
    ),
    maxBytes: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 64 * 1024 * 1024,
        description: 'bytes of row data captured per statement (default 65536)',
      }),
    ),
    retentionDays: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 36_500,
        description: 'recordings are purged this many days after their session ended; absent: kept forever',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * RecordingOptions or null (PATCH: null removes it). Spelled as one schema with
 * `type: [object, null]` rather than a union, so a bad field is reported once, by
 * name, instead of as "must be null" plus "must match a schema in anyOf".
 */
const NullableRecordingOptions = Type.Unsafe<Static<typeof RecordingOptions> | null>({
  ...RecordingOptions,
  type: ['object', 'null'],
});

/**
 * `options.access`: with `requireGrant: true`, connecting needs an approved,
 * time-boxed access grant (POST /api/access-requests); the session ends with it.
 */
export const AccessOptions = Type.Object(
  {
    requireGrant: Type.Boolean({ description: 'connecting needs an active access grant (default false)' }),
  },
  { additionalProperties: false },
);

const NullableAccessOptions = Type.Unsafe<Static<typeof AccessOptions> | null>({
  ...AccessOptions,
  type: ['object', 'null'],
});

/**
 * `options.ssh` (ssh connections): what a session may do besides shells and exec.
 * Everything is off by default; the gateway refuses what is not enabled.
 */
export const SshOptions = Type.Object(
  {
    allowSftp: Type.Optional(Type.Boolean({ description: 'relay the sftp subsystem (default false)' })),
    allowPortForwarding: Type.Optional(
      Type.Boolean({ description: 'port forwarding; refused today even when true (default false)' }),
    ),
    allowAgentForwarding: Type.Optional(
      Type.Boolean({ description: 'agent forwarding; refused today even when true (default false)' }),
    ),
    recordInput: Type.Optional(
      Type.Boolean({ description: 'record what the client types, as asciicast "i" events (default false)' }),
    ),
  },
  { additionalProperties: false },
);

const NullableSshOptions = Type.Unsafe<Static<typeof SshOptions> | null>({
  ...SshOptions,
  type: ['object', 'null'],
});

/**
 * `options.allowPrivilegedTargetWithMasking` (postgres): column masking on a connection whose
 * target role is a superuser or a member of pg_read_server_files / pg_execute_server_program is
 * refused at session start unless this is true, since such a role can read masked values through
 * server files no policy sees.
 */
const allowPrivilegedTargetWithMaskingDescription =
  'postgres: run sessions with column masking even though the target role is a superuser or a member of ' +
  'pg_read_server_files or pg_execute_server_program, which can read masked values through server files ' +
  'no policy sees (default false: such sessions are refused; prefer a least-privilege role)';

/** Connection options: free-form, except the settings declared here, which are validated. */
const Options = (description: string, recording: TSchema, access: TSchema, ssh: TSchema, flag: TSchema) =>
  Type.Object(
    {
      recording: Type.Optional(recording),
      access: Type.Optional(access),
      ssh: Type.Optional(ssh),
      allowPrivilegedTargetWithMasking: Type.Optional(flag),
    },
    { additionalProperties: true, description },
  );

const configDescription =
  'target settings for the type. postgres: host, port (5432), database, user, password*, sslmode ' +
  '(disable|prefer|require|verify-full, default prefer), sslrootcert, require_auth (libpq syntax: ' +
  'password, md5, scram-sha-256, none or !method, comma-separated; default any method with verify-full, ' +
  'else scram-sha-256,none). ssh: host, port (22), user, ' +
  'password*, privateKey*, passphrase*, hostKeyFingerprint, knownHosts. http: url, authorization*, ' +
  'headers. * = secret: write-only, `env:NAME` / `file:/path` references or literals stored encrypted.';

export const ConnectionBody = Type.Object(
  {
    name: Name,
    type: ConnectionType,
    agent: Type.String({ minLength: 1, maxLength: 200, description: 'id or name of the agent serving it' }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    config: JsonObject(configDescription),
    allowedGroups: Type.Optional(Type.Array(Name, { maxItems: 200, description: 'groups whose members may use it' })),
    options: Type.Optional(
      Options(
        'per-connection options (recording: capture caps and retention; access: time-boxed grants required)',
        RecordingOptions,
        AccessOptions,
        SshOptions,
        Type.Boolean({ description: allowPrivilegedTargetWithMaskingDescription }),
      ),
    ),
    policies: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        maxItems: 100,
        description:
          'policies (ids or names) to attach; left out: the default rule pack (default-guardrails, default-masking); [] turns it off',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ConnectionPatch = Type.Object(
  {
    name: Type.Optional(Name),
    type: Type.Optional(ConnectionType),
    agent: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    config: Type.Optional(
      JsonObject('merged into the current config; a key set to null is removed (a secret set to null is deleted)'),
    ),
    allowedGroups: Type.Optional(Type.Array(Name, { maxItems: 200 })),
    options: Type.Optional(
      Options(
        'merged into the current options; a key set to null is removed',
        NullableRecordingOptions,
        NullableAccessOptions,
        NullableSshOptions,
        Nullable(Type.Boolean({ description: allowPrivilegedTargetWithMaskingDescription })),
      ),
    ),
    policies: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        maxItems: 100,
        description: 'replaces the attached policies (ids or names)',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SecretRef = Type.Object(
  {
    source: Type.Enum(['env', 'file', 'stored']),
    ref: Type.Optional(Type.String({ description: 'the reference the agent resolves (env/file only)' })),
  },
  { additionalProperties: false },
);

export const Connection = Type.Object({
  id: Id,
  name: Type.String(),
  type: ConnectionType,
  description: Nullable(Type.String()),
  agent: Type.Object({ id: Id, name: Type.String(), status: Type.String() }),
  config: Type.Record(Type.String(), Type.Unknown()),
  secrets: Type.Record(Type.String(), SecretRef),
  allowedGroups: Type.Array(Type.String()),
  options: Type.Record(Type.String(), Type.Unknown()),
  policies: Type.Array(Type.Object({ id: Id, name: Type.String(), kind: Type.String() })),
  targetRole: TargetRoleField,
  warnings: Warnings,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
