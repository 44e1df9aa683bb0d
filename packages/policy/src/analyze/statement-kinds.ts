/**
 * Statement kinds: the parser's node type names mapped onto a stable, readable vocabulary.
 * Kind rules match these with globs (`create*`, `alter*`, `drop*`).
 */
export const STATEMENT_KINDS = [
  // data
  'select',
  'insert',
  'update',
  'delete',
  'merge',
  'copy',
  'create_table_as', // CREATE TABLE AS and SELECT INTO
  'create_materialized_view',
  'refresh_materialized_view',
  // definitions
  'create_table',
  'create_view',
  'create_index',
  'create_function',
  'create_procedure',
  'create_schema',
  'create_extension',
  'create_sequence',
  'create_trigger',
  'create_event_trigger',
  'create_type',
  'create_domain',
  'create_rule',
  'create_policy',
  'create_foreign_table',
  'create_server',
  'create_foreign_data_wrapper',
  'create_user_mapping',
  'create_language',
  'create_cast',
  'create_conversion',
  'create_transform',
  'create_operator_class',
  'create_operator_family',
  'create_access_method',
  'create_statistics',
  'create_tablespace',
  'create_publication',
  'create_subscription',
  'create_database',
  'create_aggregate',
  'create_operator',
  'create_base_type', // CREATE TYPE with input/output functions (also a shell type, CREATE TYPE t)
  'create_collation',
  'create_text_search', // CREATE TEXT SEARCH PARSER / TEMPLATE / DICTIONARY / CONFIGURATION
  'create_other', // any other DefineStmt
  'import_foreign_schema',
  'alter_table',
  'alter_function',
  'alter_sequence',
  'alter_database',
  'alter_system',
  'alter_owner',
  'alter_rename',
  'alter_object_schema',
  'alter_default_privileges',
  'alter_extension',
  'alter_other',
  'drop',
  'drop_database',
  'drop_owned',
  'drop_tablespace',
  'drop_user_mapping',
  'drop_subscription',
  'reassign_owned',
  'truncate',
  'comment',
  'security_label',
  // roles and privileges
  'create_role',
  'alter_role',
  'drop_role',
  'grant',
  'revoke',
  // code
  'call',
  'do',
  // session
  'set',
  'reset',
  'show',
  'discard',
  'transaction',
  'set_constraints',
  'explain',
  'prepare',
  'execute',
  'deallocate',
  'declare_cursor',
  'fetch',
  'move',
  'close_cursor',
  'listen',
  'unlisten',
  'notify',
  'load',
  // maintenance
  'vacuum',
  'analyze',
  'cluster',
  'reindex',
  'checkpoint',
  'lock',
  'other',
] as const;

export type StatementKind = (typeof STATEMENT_KINDS)[number];

const BY_NODE: Record<string, StatementKind> = {
  SelectStmt: 'select',
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
  CopyStmt: 'copy',
  CreateTableAsStmt: 'create_table_as',
  RefreshMatViewStmt: 'refresh_materialized_view',
  CreateStmt: 'create_table',
  ViewStmt: 'create_view',
  IndexStmt: 'create_index',
  CreateFunctionStmt: 'create_function',
  CreateSchemaStmt: 'create_schema',
  CreateExtensionStmt: 'create_extension',
  CreateSeqStmt: 'create_sequence',
  CreateTrigStmt: 'create_trigger',
  CreateEventTrigStmt: 'create_event_trigger',
  CompositeTypeStmt: 'create_type',
  CreateEnumStmt: 'create_type',
  CreateRangeStmt: 'create_type',
  CreateDomainStmt: 'create_domain',
  RuleStmt: 'create_rule',
  CreatePolicyStmt: 'create_policy',
  CreateForeignTableStmt: 'create_foreign_table',
  CreateForeignServerStmt: 'create_server',
  CreateFdwStmt: 'create_foreign_data_wrapper',
  CreateUserMappingStmt: 'create_user_mapping',
  CreatePLangStmt: 'create_language',
  CreateCastStmt: 'create_cast',
  CreateConversionStmt: 'create_conversion',
  CreateTransformStmt: 'create_transform',
  CreateOpClassStmt: 'create_operator_class',
  CreateOpFamilyStmt: 'create_operator_family',
  CreateAmStmt: 'create_access_method',
  CreateStatsStmt: 'create_statistics',
  CreateTableSpaceStmt: 'create_tablespace',
  CreatePublicationStmt: 'create_publication',
  CreateSubscriptionStmt: 'create_subscription',
  CreatedbStmt: 'create_database',
  ImportForeignSchemaStmt: 'import_foreign_schema',
  AlterTableStmt: 'alter_table',
  AlterTableMoveAllStmt: 'alter_table',
  AlterFunctionStmt: 'alter_function',
  AlterSeqStmt: 'alter_sequence',
  AlterDatabaseStmt: 'alter_database',
  AlterDatabaseSetStmt: 'alter_database',
  AlterDatabaseRefreshCollStmt: 'alter_database',
  AlterSystemStmt: 'alter_system',
  AlterOwnerStmt: 'alter_owner',
  RenameStmt: 'alter_rename',
  AlterObjectSchemaStmt: 'alter_object_schema',
  AlterObjectDependsStmt: 'alter_other',
  AlterDefaultPrivilegesStmt: 'alter_default_privileges',
  AlterExtensionStmt: 'alter_extension',
  AlterExtensionContentsStmt: 'alter_extension',
  DropStmt: 'drop',
  DropdbStmt: 'drop_database',
  DropOwnedStmt: 'drop_owned',
  DropTableSpaceStmt: 'drop_tablespace',
  DropUserMappingStmt: 'drop_user_mapping',
  DropSubscriptionStmt: 'drop_subscription',
  ReassignOwnedStmt: 'reassign_owned',
  TruncateStmt: 'truncate',
  CommentStmt: 'comment',
  SecLabelStmt: 'security_label',
  CreateRoleStmt: 'create_role',
  AlterRoleStmt: 'alter_role',
  AlterRoleSetStmt: 'alter_role',
  DropRoleStmt: 'drop_role',
  CallStmt: 'call',
  DoStmt: 'do',
  VariableShowStmt: 'show',
  DiscardStmt: 'discard',
  TransactionStmt: 'transaction',
  ConstraintsSetStmt: 'set_constraints',
  ExplainStmt: 'explain',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  DeallocateStmt: 'deallocate',
  DeclareCursorStmt: 'declare_cursor',
  ClosePortalStmt: 'close_cursor',
  ListenStmt: 'listen',
  UnlistenStmt: 'unlisten',
  NotifyStmt: 'notify',
  LoadStmt: 'load',
  ClusterStmt: 'cluster',
  ReindexStmt: 'reindex',
  CheckPointStmt: 'checkpoint',
  LockStmt: 'lock',
};

/** CREATE AGGREGATE / OPERATOR / TYPE / COLLATION / TEXT SEARCH ... all parse to DefineStmt. */
const DEFINE_KINDS: Record<string, StatementKind> = {
  OBJECT_AGGREGATE: 'create_aggregate',
  OBJECT_OPERATOR: 'create_operator',
  OBJECT_TYPE: 'create_base_type',
  OBJECT_COLLATION: 'create_collation',
  OBJECT_TSPARSER: 'create_text_search',
  OBJECT_TSTEMPLATE: 'create_text_search',
  OBJECT_TSDICTIONARY: 'create_text_search',
  OBJECT_TSCONFIGURATION: 'create_text_search',
};

type Body = Record<string, unknown>;

/** The kind of one raw statement node (`{ SelectStmt: {...} }` unwrapped into type + body). */
export function statementKind(nodeType: string, body: Body): StatementKind {
  switch (nodeType) {
    case 'SelectStmt':
      return body.intoClause ? 'create_table_as' : 'select';
    case 'CreateTableAsStmt':
      return body.objtype === 'OBJECT_MATVIEW' ? 'create_materialized_view' : 'create_table_as';
    case 'CreateFunctionStmt':
      return body.is_procedure ? 'create_procedure' : 'create_function';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body.is_grant ? 'grant' : 'revoke';
    case 'VariableSetStmt':
      return body.kind === 'VAR_RESET' || body.kind === 'VAR_RESET_ALL' ? 'reset' : 'set';
    case 'DefineStmt':
      return DEFINE_KINDS[String(body.kind)] ?? 'create_other';
    case 'VacuumStmt':
      return body.is_vacuumcmd ? 'vacuum' : 'analyze';
    case 'FetchStmt':
      return body.ismove ? 'move' : 'fetch';
    default:
      if (nodeType.startsWith('Alter') && !(nodeType in BY_NODE)) return 'alter_other';
      return BY_NODE[nodeType] ?? 'other';
  }
}

/** Kinds that change schema objects, privileges or roles (everything a read-only connection refuses outright). */
export function isDdlKind(kind: StatementKind): boolean {
  return (
    kind.startsWith('create') ||
    kind.startsWith('alter') ||
    kind.startsWith('drop') ||
    kind === 'truncate' ||
    kind === 'import_foreign_schema' ||
    kind === 'reassign_owned' ||
    kind === 'comment' ||
    kind === 'security_label' ||
    kind === 'grant' ||
    kind === 'revoke'
  );
}

/**
 * Kinds a read-only connection may run (when the statement also writes nothing and calls no
 * side-effecting function). Everything else is refused in read-only mode.
 */
export const READ_ONLY_KINDS: ReadonlySet<StatementKind> = new Set<StatementKind>([
  'select',
  'show',
  'set',
  'reset',
  'discard',
  'transaction',
  'set_constraints',
  'explain',
  'prepare',
  'execute',
  'deallocate',
  'declare_cursor',
  'fetch',
  'move',
  'close_cursor',
  'listen',
  'unlisten',
  'copy', // COPY ... TO STDOUT only; COPY FROM and server-side file/program forms write
]);
