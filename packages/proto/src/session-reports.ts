// What the agent reports about a session out of band, in tunnel Report frames (see
// tunnel.proto): never inside the session's payload, so nothing the target sends can
// forge or hide one. Payloads are JSON; the shapes below are the wire contract. The
// facts mirror SessionFacts of @warden/policy (session/contract.ts), which the agent
// does not depend on; the gateway checks that they line up where it converts them.

/** Report kinds. */
export const SESSION_REPORT = {
  /** The target role's attributes and the catalog facts, sent once before SessionOpened. */
  facts: 'facts',
  /** Cells masked since the last report, by detector or `column:<name>`. */
  masked: 'masked',
} as const;

/** `schema.name`, identifiers as stored (unquoted). */
type QualifiedName = string;

export interface TargetRoleReport {
  superuser: boolean;
  createRole: boolean;
  /** Which of pg_read_server_files, pg_write_server_files, pg_execute_server_program the role is a member of. */
  serverFileRoles: string[];
}

/** User-defined objects (OID >= 16384) through which a statement can run a function without naming it. */
export interface CatalogReport {
  operators: { schema: string; name: string; function: QualifiedName }[];
  casts: { source: QualifiedName; target: QualifiedName; function: QualifiedName; context: 'i' | 'a' | 'e' }[];
  aggregates: { schema: string; name: string; functions: QualifiedName[] }[];
  types: { schema: string; name: string; functions: QualifiedName[] }[];
  /** Sent when the session masks columns: views and materialized views over a masked column (`schema.table.column`). */
  maskedDependents?: { schema: string; name: string; kind: 'view' | 'materialized_view'; column: string }[];
  /** Sent when the session masks columns: every column of each table with masked columns. */
  maskedTableColumns?: { schema: string; table: string; columns: string[] }[];
}

export interface SessionFactsReport {
  role: TargetRoleReport;
  catalog: CatalogReport;
  /**
   * False when the catalog is over the agent's limits (entries per list, report size): the
   * facts would be partial, and a policy judging by them could miss the one object that
   * matters, so the gateway refuses. The catalog lists are then sent empty.
   */
  complete: boolean;
  /** The catalog lists over the limit, when `complete` is false. */
  truncated?: string[];
}

/** Masked-cell counts, by detector or `column:<name>`. */
export type MaskedCountsReport = Record<string, number>;

export function encodeReport(payload: SessionFactsReport | MaskedCountsReport): Uint8Array {
  return Buffer.from(JSON.stringify(payload));
}

/** A report payload that does not have its kind's shape. */
export class ReportFormatError extends Error {
  override name = 'ReportFormatError';
}

function parse(payload: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw new ReportFormatError('the report is not JSON');
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function list<T>(value: unknown, name: string, valid: (entry: Record<string, unknown>) => boolean): T[] {
  if (!Array.isArray(value) || !value.every((e) => isObject(e) && valid(e))) {
    throw new ReportFormatError(`the facts report's catalog.${name} is malformed`);
  }
  return value as T[];
}

/** Reads a "facts" report, checking every field: the gateway judges statements by it. */
export function decodeFactsReport(payload: Uint8Array): SessionFactsReport {
  const raw = parse(payload);
  if (!isObject(raw) || !isObject(raw.role) || !isObject(raw.catalog) || typeof raw.complete !== 'boolean') {
    throw new ReportFormatError('the facts report lacks role, catalog or complete');
  }
  const role = raw.role;
  if (
    typeof role.superuser !== 'boolean' ||
    typeof role.createRole !== 'boolean' ||
    !isStringArray(role.serverFileRoles)
  ) {
    throw new ReportFormatError("the facts report's role is malformed");
  }
  const c = raw.catalog;
  const named = (e: Record<string, unknown>) => isString(e.schema) && isString(e.name) && isStringArray(e.functions);
  const catalog: CatalogReport = {
    operators: list(c.operators, 'operators', (e) => isString(e.schema) && isString(e.name) && isString(e.function)),
    casts: list(
      c.casts,
      'casts',
      (e) =>
        isString(e.source) &&
        isString(e.target) &&
        isString(e.function) &&
        (e.context === 'i' || e.context === 'a' || e.context === 'e'),
    ),
    aggregates: list(c.aggregates, 'aggregates', named),
    types: list(c.types, 'types', named),
  };
  // Optional (an agent reads them only for a session with column rules), but checked when present.
  if (c.maskedDependents !== undefined) {
    catalog.maskedDependents = list(
      c.maskedDependents,
      'maskedDependents',
      (e) =>
        isString(e.schema) &&
        isString(e.name) &&
        isString(e.column) &&
        (e.kind === 'view' || e.kind === 'materialized_view'),
    );
  }
  if (c.maskedTableColumns !== undefined) {
    catalog.maskedTableColumns = list(
      c.maskedTableColumns,
      'maskedTableColumns',
      (e) => isString(e.schema) && isString(e.table) && isStringArray(e.columns),
    );
  }
  return {
    role: { superuser: role.superuser, createRole: role.createRole, serverFileRoles: role.serverFileRoles },
    catalog,
    complete: raw.complete,
    ...(isStringArray(raw.truncated) ? { truncated: raw.truncated } : {}),
  };
}

/** Reads a "masked" report; entries that are not non-negative integers are dropped. */
export function decodeMaskedCounts(payload: Uint8Array): MaskedCountsReport {
  const raw = parse(payload);
  if (!isObject(raw)) throw new ReportFormatError('the masked-cells report is not an object');
  const counts: MaskedCountsReport = {};
  for (const [key, n] of Object.entries(raw)) {
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) counts[key] = n;
  }
  return counts;
}
