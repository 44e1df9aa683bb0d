import { createHash } from 'node:crypto';
import type { QualifiedName, StatementAnalysis } from '../analyze/types.js';
import type { CatalogFacts, CatalogName } from './contract.js';

/** Which function patterns a rule refuses: the pattern a function matches, or undefined. */
export type FunctionPatternMatcher = (f: QualifiedName) => string | undefined;

/** A catalog object through which a statement would run a refused function. */
export interface IndirectCall {
  /** `operator public.###`, `cast to public.t`, `aggregate public.agg`, `type public.t`. */
  what: string;
  /** The function that runs, `schema.name`. */
  function: CatalogName;
  /** The rule's pattern it matches. */
  pattern: string;
}

interface Entry {
  schema: string;
  call: IndirectCall;
}

/** `schema.name` → parts (names with dots in them are not told apart; a match errs on refusing). */
export function splitCatalogName(name: CatalogName): QualifiedName {
  const dot = name.indexOf('.');
  return dot === -1 ? { name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
}

/**
 * What the target's catalog says about one function rule: the user-defined operators, casts,
 * aggregates and types that run a function the rule refuses, looked up by the names a statement
 * uses (an unqualified name may be any schema, so it matches in every schema: search_path is not
 * visible in the text). Built once per (rule, catalog facts), so a decision costs a few map lookups.
 */
export class CatalogDenials {
  private readonly operators = new Map<string, Entry[]>();
  private readonly castTargets = new Map<string, Entry[]>();
  private readonly aggregates = new Map<string, Entry[]>();
  /**
   * An implicit or assignment cast, or a type's I/O function, that runs a refused function: the
   * parser cannot see where those run (a comparison, an INSERT, any output of a column), so no
   * statement can be shown not to run it.
   */
  readonly everywhere: IndirectCall | undefined;

  constructor(facts: CatalogFacts, match: FunctionPatternMatcher) {
    const denied = (fn: CatalogName) => {
      const pattern = match(splitCatalogName(fn));
      return pattern === undefined ? undefined : { function: fn, pattern };
    };
    let everywhere: IndirectCall | undefined;
    for (const op of facts.operators) {
      const hit = denied(op.function);
      if (hit) add(this.operators, op.name, op.schema, { what: `operator ${op.schema}.${op.name}`, ...hit });
    }
    for (const cast of facts.casts) {
      const hit = denied(cast.function);
      if (!hit) continue;
      const target = splitCatalogName(cast.target);
      const call = { what: `cast from ${cast.source} to ${cast.target}`, ...hit };
      add(this.castTargets, target.name, target.schema ?? '', call);
      if (cast.context !== 'e') everywhere ??= { ...call, what: `an ${contextName(cast.context)} ${call.what}` };
    }
    for (const agg of facts.aggregates) {
      for (const fn of agg.functions) {
        const hit = denied(fn);
        if (!hit) continue;
        add(this.aggregates, agg.name, agg.schema, { what: `aggregate ${agg.schema}.${agg.name}`, ...hit });
        break;
      }
    }
    for (const type of facts.types) {
      for (const fn of type.functions) {
        const hit = denied(fn);
        if (!hit) continue;
        const call = { what: `type ${type.schema}.${type.name}`, ...hit };
        add(this.castTargets, type.name, type.schema, call);
        everywhere ??= { ...call, what: `${call.what} (an input/output function)` };
        break;
      }
    }
    this.everywhere = everywhere;
  }

  /** The first operator, cast target or aggregate of the statement that runs a refused function. */
  check(stmt: StatementAnalysis): IndirectCall | undefined {
    if (this.operators.size > 0) {
      for (const op of stmt.operators) {
        const hit = find(this.operators, op);
        if (hit) return hit;
      }
    }
    if (this.castTargets.size > 0) {
      for (const t of stmt.castTypes) {
        const hit = find(this.castTargets, t);
        if (hit) return hit;
      }
    }
    if (this.aggregates.size > 0) {
      for (const f of stmt.functions) {
        const hit = find(this.aggregates, f);
        if (hit) return hit;
      }
    }
    return undefined;
  }
}

function contextName(context: 'i' | 'a' | 'e'): string {
  return context === 'i' ? 'implicit' : context === 'a' ? 'assignment' : 'explicit';
}

function add(map: Map<string, Entry[]>, name: string, schema: string, call: IndirectCall): void {
  const key = name.toLowerCase();
  const list = map.get(key);
  const entry = { schema: schema.toLowerCase(), call };
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

function find(map: Map<string, Entry[]>, ref: QualifiedName): IndirectCall | undefined {
  const list = map.get(ref.name.toLowerCase());
  if (!list) return undefined;
  const schema = ref.schema?.toLowerCase();
  return list.find((e) => schema === undefined || e.schema === schema)?.call;
}

/** Whether the facts name anything at all (no facts: a policy behaves exactly as without them). */
export function hasCatalogFacts(facts: CatalogFacts): boolean {
  return (
    facts.operators.length + facts.casts.length + facts.aggregates.length + facts.types.length > 0 ||
    // Present (even empty) only when the session masks columns: the masking checks then use them.
    facts.maskedDependents !== undefined ||
    facts.maskedTableColumns !== undefined
  );
}

/**
 * A hash of the facts that does not depend on the order the catalog returned them in (entries and
 * function lists sorted), so sessions of one database share one derived policy and its cache.
 */
export function catalogFactsHash(facts: CatalogFacts): string {
  const sorted = (items: unknown[]) => items.map((i) => JSON.stringify(i)).sort();
  const canonical = {
    operators: sorted(facts.operators.map((o) => [o.schema, o.name, o.function])),
    casts: sorted(facts.casts.map((c) => [c.source, c.target, c.function, c.context])),
    aggregates: sorted(facts.aggregates.map((a) => [a.schema, a.name, [...a.functions].sort()])),
    types: sorted(facts.types.map((t) => [t.schema, t.name, [...t.functions].sort()])),
    // Absent and empty differ (see hasCatalogFacts): an absent list adds no key.
    ...(facts.maskedDependents && {
      maskedDependents: sorted(facts.maskedDependents.map((d) => [d.schema, d.name, d.kind, d.column])),
    }),
    ...(facts.maskedTableColumns && {
      maskedTableColumns: sorted(facts.maskedTableColumns.map((t) => [t.schema, t.table, [...t.columns].sort()])),
    }),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
