import type { ColumnSource, QualifiedName } from './types.js';

/**
 * What a derived relation (FROM subquery, CTE) outputs, column by column. An item without a name
 * comes from `*` / `t.*` inside the subquery: it may be any column of its sources.
 */
export interface Lineage {
  items: LineageItem[];
}

export interface LineageItem {
  name?: string;
  sources: ColumnSource[];
}

/** One entry of a FROM list as seen by column references. */
export interface RangeEntry {
  /** The name column references qualify with: the alias, else the relation name. */
  alias?: string;
  table?: QualifiedName;
  lineage?: Lineage;
  /** A join with an alias (`(a JOIN b) AS j`): `j.col` resolves through its members. */
  members?: RangeEntry[];
}

export class Scope {
  readonly entries: RangeEntry[] = [];
  readonly ctes = new Map<string, Lineage>();

  constructor(readonly parent?: Scope) {}

  /** A CTE visible from here (inner WITH shadows outer). */
  cte(name: string): Lineage | undefined {
    for (let s: Scope | undefined = this.self(); s; s = s.parent) {
      const found = s.ctes.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** The entry a qualifier names: `alias`, `schema.table` or `db.schema.table`, innermost scope first. */
  findEntry(qualifier: string[]): RangeEntry | undefined {
    for (let s: Scope | undefined = this.self(); s; s = s.parent) {
      const found = findIn(s.entries, qualifier);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Candidates for an unqualified column name. Without the catalog the analysis cannot know which
   * table owns a column, so every table in scope (this level and every enclosing one, for correlated
   * references) is a candidate; derived relations only when their lineage can produce that name.
   */
  resolveUnqualified(column: string): ColumnSource[] {
    const out: ColumnSource[] = [];
    for (let s: Scope | undefined = this.self(); s; s = s.parent) {
      for (const entry of s.entries) out.push(...columnOf(entry, column));
    }
    return out;
  }

  private self(): Scope {
    return this;
  }

  /** Entries a bare `*` expands to: the FROM list of this level only. */
  starSources(): ColumnSource[] {
    return this.entries.flatMap(wholeRowOf);
  }
}

function findIn(entries: RangeEntry[], qualifier: string[]): RangeEntry | undefined {
  for (const entry of entries) {
    if (matchesQualifier(entry, qualifier)) return entry;
    if (entry.members) {
      const found = findIn(entry.members, qualifier);
      if (found) return found;
    }
  }
  return undefined;
}

function matchesQualifier(entry: RangeEntry, q: string[]): boolean {
  if (q.length === 1) return entry.alias === q[0];
  const name = q[q.length - 1];
  const schema = q[q.length - 2];
  if (!entry.table || entry.table.name !== name) return false;
  // `public.t.col` against an unqualified `FROM t`: same table as far as the text can tell.
  return entry.table.schema === undefined || entry.table.schema === schema;
}

/** Sources of `column` in one range entry. */
export function columnOf(entry: RangeEntry, column: string): ColumnSource[] {
  if (entry.members) return entry.members.flatMap((m) => columnOf(m, column));
  if (entry.table) return [source(entry.table, column)];
  if (!entry.lineage) return [];
  const out: ColumnSource[] = [];
  for (const item of entry.lineage.items) {
    if (item.name === column) out.push(...item.sources);
    else if (item.name === undefined) {
      for (const s of item.sources) out.push(s.column === '*' ? { ...s, column } : s);
    }
  }
  return out;
}

/** Sources of the whole row of an entry (`t.*`, `SELECT t FROM t`). */
export function wholeRowOf(entry: RangeEntry): ColumnSource[] {
  if (entry.members) return entry.members.flatMap(wholeRowOf);
  if (entry.table) return [source(entry.table, '*')];
  return entry.lineage ? entry.lineage.items.flatMap((i) => i.sources) : [];
}

export function source(table: QualifiedName, column: string): ColumnSource {
  return table.schema === undefined
    ? { table: table.name, column }
    : { schema: table.schema, table: table.name, column };
}

/**
 * Applies column aliases (`AS s(a, b)`, `WITH c(a, b) AS`) positionally. After a `*` item the
 * positions are unknown, so every renamed name may be any source (fail closed).
 */
export function renameLineage(lineage: Lineage, names: string[]): Lineage {
  if (names.length === 0) return lineage;
  const starIndex = lineage.items.findIndex((i) => i.name === undefined);
  if (starIndex !== -1 && starIndex < names.length) {
    const all = lineage.items.flatMap((i) => i.sources);
    return { items: [...names.map((name) => ({ name, sources: all })), { sources: all }] };
  }
  return {
    items: lineage.items.map((item, i) => (i < names.length ? { name: names[i], sources: item.sources } : item)),
  };
}

function sourceKey(s: ColumnSource): string {
  return `${s.schema ?? ''}\u0000${s.table}\u0000${s.column}`;
}

/** The lineage with each item's sources deduplicated (keeps WITH RECURSIVE rounds bounded). */
export function uniqueSources(lineage: Lineage): Lineage {
  return {
    items: lineage.items.map((item) => {
      const seen = new Map<string, ColumnSource>();
      for (const s of item.sources) seen.set(sourceKey(s), s);
      const sources = [...seen.values()];
      return item.name === undefined ? { sources } : { name: item.name, sources };
    }),
  };
}

/** A comparable form of a lineage (names and sorted sources), to tell when a fixed point is reached. */
export function lineageKey(lineage: Lineage | undefined): string {
  if (!lineage) return '';
  return lineage.items.map((i) => `${i.name ?? '*'}=${i.sources.map(sourceKey).sort().join(',')}`).join(';');
}
