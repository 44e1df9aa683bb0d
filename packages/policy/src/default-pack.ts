import { DETECTOR_IDS, type DetectorRule, type GuardrailRule, type PolicyRules } from './rules/schemas.js';

/** Functions that read or write server files, run programs or open connections from the server. */
export const DANGEROUS_FUNCTIONS: readonly string[] = [
  'pg_read_file',
  'pg_read_binary_file',
  'pg_ls_dir',
  'pg_ls_*dir', // pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, pg_ls_archive_statusdir, ...
  'pg_stat_file',
  'pg_file_*', // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync
  'pg_logdir_ls',
  'lo_import',
  'lo_export',
  'dblink*',
  'heap_force_*', // pg_surgery: heap_force_kill, heap_force_freeze
  // A role rather than a function (GRANTs are refused by kind); listed so a function of that name is too.
  'pg_execute_server_program',
];

/**
 * Statement kinds that install code the server later runs without a statement naming it, or reach
 * outside the database: extensions, foreign data wrappers/servers/tables, event triggers,
 * languages, casts, transforms, access methods, operator classes/families, conversions,
 * aggregates, operators, base types, text search parsers/templates, publications,
 * subscriptions, tablespaces.
 */
export const CODE_AND_REACH_KINDS: readonly string[] = [
  'create_extension',
  'create_foreign_data_wrapper',
  'create_server',
  'create_foreign_table',
  'create_user_mapping',
  'import_foreign_schema',
  'create_event_trigger',
  'create_language',
  'create_cast',
  'create_transform',
  'create_access_method',
  'create_operator_class',
  'create_operator_family',
  'create_conversion',
  'create_aggregate',
  'create_operator',
  'create_base_type',
  'create_text_search',
  'create_publication',
  'create_subscription',
  'create_tablespace',
];

/** Settings that change who the session acts as, or switch off triggers and foreign keys. */
export const IDENTITY_SETTINGS: readonly string[] = ['role', 'session_authorization', 'session_replication_role'];

/** The default max_rows_affected limit. */
export const DEFAULT_MAX_ROWS_AFFECTED = 1000;

/**
 * Value detectors the default pack turns on: every detector, card numbers keeping their last 4
 * digits and everything else redacted (the same defaults as @warden/masking).
 */
export const DEFAULT_DETECTORS: readonly DetectorRule[] = DETECTOR_IDS.map((detector) => ({
  detector,
  strategy: detector === 'credit_card' ? 'last4' : 'redact',
}));

/**
 * The rules a new connection gets unless told otherwise: destructive and privilege-changing kinds,
 * role switching, DDL that installs code or reaches outside the database, unfiltered
 * UPDATE/DELETE, writes of more than 1000 rows, server-side file/program access and dangerous
 * functions are refused; value detectors mask. Returns a fresh copy each call, so callers may edit it.
 */
export function defaultPolicyRules(): PolicyRules {
  const guardrails: GuardrailRule[] = [
    {
      type: 'deny_kinds',
      name: 'default.privileges',
      message:
        'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
      kinds: [
        'grant',
        'revoke',
        'create_role',
        'alter_role',
        'drop_role',
        'reassign_owned',
        'alter_default_privileges',
      ],
    },
    {
      type: 'deny_settings',
      name: 'default.session-identity',
      message:
        "changing the session's role or replication role (SET ROLE, SET SESSION AUTHORIZATION, session_replication_role) is not allowed on this connection",
      parameters: [...IDENTITY_SETTINGS],
    },
    {
      type: 'deny_kinds',
      name: 'default.destructive-ddl',
      message: 'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
      kinds: ['drop*', 'truncate', 'alter*', 'load'],
    },
    {
      type: 'deny_kinds',
      name: 'default.code-and-reach',
      message:
        'creating extensions, foreign servers and tables, event triggers, languages, casts, operators, aggregates, base types, access methods, publications, subscriptions or tablespaces is not allowed on this connection',
      kinds: [...CODE_AND_REACH_KINDS],
    },
    {
      type: 'require_where',
      name: 'default.require-where',
      message: 'UPDATE and DELETE need a WHERE clause on this connection',
    },
    {
      type: 'max_rows_affected',
      name: 'default.max-rows-affected',
      limit: DEFAULT_MAX_ROWS_AFFECTED,
    },
    {
      type: 'deny_functions',
      name: 'default.dangerous-functions',
      message: 'functions that reach the server file system, run programs or open connections are not allowed',
      functions: [...DANGEROUS_FUNCTIONS],
    },
    {
      type: 'deny_copy',
      name: 'default.copy-server-side',
      message: 'COPY to or from a server file or program is not allowed on this connection',
      forms: ['program', 'file'],
    },
  ];
  return { guardrails, masking: { detectors: DEFAULT_DETECTORS.map((d) => ({ ...d })) } };
}
