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
  // A role rather than a function (GRANTs are refused by kind); listed so a function of that name is too.
  'pg_execute_server_program',
];

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
 * unfiltered UPDATE/DELETE, server-side file/program access and dangerous functions are refused;
 * value detectors mask. Returns a fresh copy each call, so callers may edit it.
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
      type: 'deny_kinds',
      name: 'default.destructive-ddl',
      message: 'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
      kinds: ['drop*', 'truncate', 'alter*', 'load'],
    },
    {
      type: 'require_where',
      name: 'default.require-where',
      message: 'UPDATE and DELETE need a WHERE clause on this connection',
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
