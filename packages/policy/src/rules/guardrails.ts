import { READ_ONLY_KINDS } from '../analyze/statement-kinds.js';
import type { QualifiedName, StatementAnalysis } from '../analyze/types.js';
import { CatalogDenials } from '../session/catalog.js';
import type { CatalogFacts } from '../session/contract.js';
import { anyGlob, globMatcher, hasWildcard, splitQualified } from './glob.js';
import { CompiledRowLimit, type RowLimit } from './row-limit.js';
import { denySettings } from './settings.js';
import type {
  DenyCopyRule,
  DenyFunctionsRule,
  DenyKindsRule,
  DenyPatternRule,
  DenyTablesRule,
  ReadOnlyRule,
  RequireWhereRule,
  SqlGuardrailRule,
} from './schemas.js';

/** What a guardrail says about one statement: nothing, or why it blocks. */
export interface Violation {
  message: string;
  detail: string;
}

export interface CompiledGuardrail {
  name: string;
  type: SqlGuardrailRule['type'];
  /** `all`: every statement of the SQL string (max_rows_affected needs to know there are others). */
  check(stmt: StatementAnalysis, all: readonly StatementAnalysis[]): Violation | undefined;
  /** max_rows_affected: the limit that applies to a string no guardrail refused. */
  rowLimit?(all: readonly StatementAnalysis[]): RowLimit | undefined;
  /**
   * deny_functions with catalog facts: a refused function that runs through an implicit cast or a
   * type's I/O, where no statement can be shown not to reach it.
   */
  refusesEverything?: Violation;
}

/**
 * Functions with side effects a read-only connection refuses (on top of writes and DDL). User-defined
 * functions can write too; nothing in the SQL text says so (see the README's threat model).
 */
export const SIDE_EFFECT_FUNCTIONS: readonly string[] = [
  'nextval',
  'setval',
  'set_config',
  'pg_notify',
  'pg_advisory*lock*',
  'pg_try_advisory*',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_promote',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'pg_create_*_replication_slot',
  'pg_copy_*_replication_slot',
  'pg_drop_replication_slot',
  'pg_replication_slot_advance',
  'pg_logical_slot_get_*',
  'pg_logical_emit_message',
  'pg_replication_origin_*',
  'pg_stat_reset*',
  'pg_log_backend_memory_contexts',
  'pg_import_system_collations',
  'txid_current',
  'pg_current_xact_id',
  'lo_*',
  'lowrite',
  'dblink*',
  'pg_file_*',
  'brin_summarize_*',
  'brin_desummarize_range',
  'gin_clean_pending_list',
];

/** @param catalog facts from the target's catalog: function rules then also follow operators, casts, aggregates and types. */
export function compileGuardrail(rule: SqlGuardrailRule, catalog?: CatalogFacts): CompiledGuardrail {
  const base = { name: rule.name, type: rule.type };
  switch (rule.type) {
    case 'deny_kinds':
      return { ...base, check: denyKinds(rule) };
    case 'require_where':
      return { ...base, check: requireWhere(rule) };
    case 'deny_tables':
      return { ...base, check: denyTables(rule) };
    case 'deny_functions':
      return denyFunctions(rule, catalog);
    case 'deny_copy':
      return { ...base, check: denyCopy(rule) };
    case 'deny_pattern':
      return { ...base, check: denyPattern(rule) };
    case 'read_only':
      return { ...base, check: readOnly(rule) };
    case 'deny_settings':
      return { ...base, check: denySettings(rule) };
    case 'max_rows_affected': {
      const limit = new CompiledRowLimit(rule);
      return { ...base, check: (stmt, all) => limit.check(stmt, all), rowLimit: (all) => limit.rowLimit(all) };
    }
  }
}

export const label = (kind: string) => kind.replace(/_/g, ' ').toUpperCase();

function denyKinds(rule: DenyKindsRule) {
  const matches = anyGlob(rule.kinds);
  return (stmt: StatementAnalysis): Violation | undefined => {
    const kind = matches(stmt.kind) ? stmt.kind : stmt.subKinds.find(matches);
    if (kind === undefined) return undefined;
    const nested = kind === stmt.kind ? '' : ` (inside ${label(stmt.kind)})`;
    return {
      message: rule.message ?? `${label(kind)} statements are not allowed on this connection`,
      detail: `statement kind ${kind}${nested} is denied by rule "${rule.name}"`,
    };
  };
}

function requireWhere(rule: RequireWhereRule) {
  const kinds = new Set(rule.kinds ?? ['update', 'delete']);
  return (stmt: StatementAnalysis): Violation | undefined => {
    const w = stmt.unfilteredWrites.find((u) => kinds.has(u.kind));
    if (!w) return undefined;
    return {
      message: rule.message ?? `${label(w.kind)} without a WHERE clause is not allowed on this connection`,
      detail: `${label(w.kind)} on ${qualified(w.table)} has no WHERE clause that references a column`,
    };
  };
}

/**
 * `schema.table` globs. An unqualified name in the SQL could be in any schema on the session's
 * search_path, which the text does not tell: it matches a pattern naming a specific table in any
 * schema (fail closed), and a schema-wide pattern (`audit.*`) only for schemas in `searchPath`.
 * Returns what matched (`table x` / `schema y`) and the pattern, for messages.
 */
export function tableMatcher(
  tables: readonly string[],
  searchPath: readonly string[] = ['public'],
): (stmt: StatementAnalysis) => { what: string; pattern: string } | undefined {
  const patterns = tables.map((p) => {
    const parts = splitQualified(p);
    const table = parts[parts.length - 1] ?? p;
    const schema = parts.length > 1 ? parts.slice(0, -1).join('.') : undefined;
    return {
      pattern: p,
      table: globMatcher(table),
      schema: schema === undefined ? undefined : globMatcher(schema),
      specific: !hasWildcard(table),
      wholeSchema: table === '*',
    };
  });
  const tableMatch = (t: QualifiedName) =>
    patterns.find((p) => {
      if (!p.table(t.name)) return false;
      if (!p.schema) return true;
      if (t.schema !== undefined) return p.schema(t.schema);
      return p.specific || searchPath.some((s) => p.schema?.(s));
    });
  return (stmt) => {
    for (const t of stmt.tables) {
      const p = tableMatch(t);
      if (p) return { what: `table ${qualified(t)}`, pattern: p.pattern };
    }
    for (const s of stmt.schemas) {
      const p = patterns.find((q) => q.wholeSchema && q.schema?.(s));
      if (p) return { what: `schema ${s}`, pattern: p.pattern };
    }
    return undefined;
  };
}

function denyTables(rule: DenyTablesRule) {
  const match = tableMatcher(rule.tables, rule.searchPath);
  return (stmt: StatementAnalysis): Violation | undefined => {
    const m = match(stmt);
    return m ? deniedObject(rule, m.what, m.pattern) : undefined;
  };
}

function deniedObject(rule: DenyTablesRule, what: string, pattern: string): Violation {
  return {
    message: rule.message ?? `access to ${what} is not allowed on this connection`,
    detail: `${what} matches "${pattern}" in rule "${rule.name}"`,
  };
}

/** `name` globs match in any schema; `schema.name` globs need that schema, or an unqualified call. */
export function functionMatcher(patterns: readonly string[]): (f: QualifiedName) => string | undefined {
  // Patterns without wildcards in the name are looked up by name; only the others are tried one by one.
  const byName = new Map<string, Array<{ index: number; pattern: string; schema?: (s: string) => boolean }>>();
  const globs: Array<{
    index: number;
    pattern: string;
    name: (s: string) => boolean;
    schema?: (s: string) => boolean;
  }> = [];
  patterns.forEach((p, index) => {
    const parts = splitQualified(p);
    const name = parts[parts.length - 1] ?? p;
    const schema = parts.length > 1 ? globMatcher(parts.slice(0, -1).join('.')) : undefined;
    const entry = schema ? { index, pattern: p, schema } : { index, pattern: p };
    if (hasWildcard(name)) globs.push({ ...entry, name: globMatcher(name) });
    else byName.set(name.toLowerCase(), [...(byName.get(name.toLowerCase()) ?? []), entry]);
  });
  const schemaOk = (c: { schema?: (s: string) => boolean }, f: QualifiedName) =>
    !c.schema || f.schema === undefined || c.schema(f.schema);
  return (f) => {
    const exact = byName.get(f.name.toLowerCase())?.find((c) => schemaOk(c, f));
    const glob = globs.find((c) => (exact === undefined || c.index < exact.index) && c.name(f.name) && schemaOk(c, f));
    return (glob ?? exact)?.pattern;
  };
}

function denyFunctions(rule: DenyFunctionsRule, catalog: CatalogFacts | undefined): CompiledGuardrail {
  const match = functionMatcher(rule.functions);
  const opaque = rule.denyOpaqueCode ?? true;
  const indirect = catalog ? new CatalogDenials(catalog, match) : undefined;
  const check = (stmt: StatementAnalysis): Violation | undefined => {
    for (const f of stmt.functions) {
      const pattern = match(f);
      if (pattern !== undefined) {
        return {
          message: rule.message ?? `calling ${qualified(f)}() is not allowed on this connection`,
          detail: `function ${qualified(f)} matches "${pattern}" in rule "${rule.name}"`,
        };
      }
    }
    const via = indirect?.check(stmt);
    if (via) {
      return {
        message: rule.message ?? `${via.what} runs ${via.function}(), which is not allowed on this connection`,
        detail: `${via.what} is implemented by ${via.function}, which matches "${via.pattern}" in rule "${rule.name}" (target catalog)`,
      };
    }
    if (opaque && stmt.opaqueCode.length > 0) {
      return {
        message: `this statement contains code Warden cannot inspect (${stmt.opaqueCode[0]}); refusing it (fail closed)`,
        detail: `rule "${rule.name}" cannot verify which functions this code calls`,
      };
    }
    return undefined;
  };
  const compiled: CompiledGuardrail = { name: rule.name, type: rule.type, check };
  if (indirect?.everywhere) compiled.refusesEverything = everywhereViolation(indirect.everywhere, rule.name);
  return compiled;
}

/** The block for every statement when a refused function runs where the parser cannot see it. */
export function everywhereViolation(
  call: { what: string; function: string; pattern: string },
  rule: string,
): Violation {
  return {
    message: `the target database has ${call.what} that runs ${call.function}(), refused by rule "${rule}"; Postgres runs implicit and assignment casts and type input/output functions without the SQL naming them, where Warden's parser cannot see them, so every statement is refused on this connection until that is removed`,
    detail: `${call.what} is implemented by ${call.function}, which matches "${call.pattern}" in rule "${rule}" (target catalog)`,
  };
}

function denyCopy(rule: DenyCopyRule) {
  const forms = new Set(rule.forms);
  return (stmt: StatementAnalysis): Violation | undefined => {
    for (const c of stmt.copies) {
      const form = c.target === 'stdio' ? (c.direction === 'from' ? 'stdin' : 'stdout') : c.target;
      if (!forms.has(form)) continue;
      const what =
        form === 'program'
          ? `COPY ${c.direction.toUpperCase()} PROGRAM`
          : form === 'file'
            ? `COPY ${c.direction.toUpperCase()} a server file`
            : `COPY ${c.direction.toUpperCase()} ${form.toUpperCase()}`;
      return {
        message: rule.message ?? `${what} is not allowed on this connection`,
        detail: `${what}${c.filename !== undefined ? ` ('${c.filename}')` : ''} is denied by rule "${rule.name}"`,
      };
    }
    return undefined;
  };
}

function denyPattern(rule: DenyPatternRule) {
  const re = new RegExp(rule.pattern, rule.flags ?? '');
  return (stmt: StatementAnalysis): Violation | undefined =>
    re.test(stmt.text)
      ? {
          message: rule.message ?? `this statement matches a pattern that is not allowed on this connection`,
          detail: `statement text matches /${rule.pattern}/${rule.flags ?? ''} in rule "${rule.name}"`,
        }
      : undefined;
}

/** Why a statement is not read-only: neutral wording, and the read_only rule's wording. */
export interface WriteReason {
  /** `DELETE statement`, `INSERT inside SELECT`, `the statement writes data`, ... */
  what: string;
  /** `DELETE statements are not allowed`, ... */
  refusal: string;
}

/**
 * Why a statement is not read-only (writes, DDL, locking reads, side-effecting functions), or
 * undefined: the read_only guardrail refuses these, and a review rule's `anyWrite` holds them.
 */
export function writeReason(
  sideEffectFunctions: readonly string[] = [],
): (stmt: StatementAnalysis) => WriteReason | undefined {
  const sideEffect = functionMatcher([...SIDE_EFFECT_FUNCTIONS, ...sideEffectFunctions]);
  const same = (what: string): WriteReason => ({ what, refusal: what });
  return (stmt) => {
    if (!READ_ONLY_KINDS.has(stmt.kind)) {
      return { what: `${label(stmt.kind)} statement`, refusal: `${label(stmt.kind)} statements are not allowed` };
    }
    const nested = stmt.subKinds.find((k) => !READ_ONLY_KINDS.has(k));
    if (nested !== undefined) {
      const what = `${label(nested)} inside ${label(stmt.kind)}`;
      return { what, refusal: `${what} is not allowed` };
    }
    const copy = stmt.copies.find((c) => c.direction === 'from' || c.target !== 'stdio');
    if (copy) return same(copy.direction === 'from' ? 'COPY FROM writes data' : 'COPY to a server file or program');
    if (stmt.writes) return same('the statement writes data');
    if (stmt.locking) return same('SELECT ... FOR UPDATE/SHARE locks rows');
    for (const f of stmt.functions) {
      if (sideEffect(f) !== undefined) return same(`${qualified(f)}() has side effects`);
    }
    return undefined;
  };
}

function readOnly(rule: ReadOnlyRule) {
  const why = writeReason(rule.sideEffectFunctions);
  return (stmt: StatementAnalysis): Violation | undefined => {
    const reason = why(stmt)?.refusal;
    if (reason === undefined) return undefined;
    return {
      message: rule.message ?? `this connection is read-only: ${reason}`,
      detail: `refused by read-only rule "${rule.name}": ${reason}`,
    };
  };
}

export function qualified(name: QualifiedName): string {
  return name.schema === undefined ? name.name : `${name.schema}.${name.name}`;
}
