import { ExpressionWalker } from './expressions.js';
import { asBody, asList, intConst, stringList, stringValue, unwrap, type Body } from './nodes.js';
import type { Ctx } from './expressions.js';
import { mayBeFunctionOfRow } from './attribute-functions.js';
import {
  columnOf,
  lineageKey,
  renameLineage,
  Scope,
  source,
  uniqueSources,
  wholeRowOf,
  type Lineage,
  type RangeEntry,
} from './scope.js';
import { statementKind } from './statement-kinds.js';
import type { Clause, ColumnSource, OutputSink, QualifiedName } from './types.js';

const EMPTY: Lineage = { items: [] };

/** Query-level structure: SELECT (and set operations), INSERT, UPDATE, DELETE, MERGE, FROM lists, WITH. */
export class QueryWalker extends ExpressionWalker {
  /** Target of SELECT INTO. */
  into?: QualifiedName;

  query(node: unknown, scope: Scope, output: OutputSink): Lineage {
    const w = unwrap(node);
    if (!w) return EMPTY;
    const [type, body] = w;
    switch (type) {
      case 'SelectStmt':
        return this.select(body, scope, output);
      case 'InsertStmt':
        return this.insert(body, scope);
      case 'UpdateStmt':
        return this.update(body, scope).lineage;
      case 'DeleteStmt':
        return this.delete(body, scope).lineage;
      case 'MergeStmt':
        return this.merge(body, scope);
      default:
        this.visit(node, { scope, clause: 'other', via: [] });
        return EMPTY;
    }
  }

  /**
   * `c.f` where `c` is a relation and `f` not one of its columns calls `f(c)` on the whole row
   * (attribute notation): `SELECT c.row_to_json FROM customers c` returns every column as JSON.
   */
  protected override node(type: string, body: Body, ctx: Ctx): void {
    super.node(type, body, ctx);
    if (type !== 'ColumnRef') return;
    const fields = asList(body.fields);
    const names = stringList(fields);
    if (names.length < 2 || names.length !== fields.length) return;
    const entry = ctx.scope.findEntry(names.slice(0, -1));
    const name = names[names.length - 1] ?? '';
    if (!entry || !mayBeFunctionOfRow(entry, name)) return;
    this.use({
      ref: names.join('.'),
      sources: wholeRowOf(entry),
      clause: ctx.clause,
      via: [...ctx.via, { kind: 'function', name }],
      wholeRow: true,
      ...(ctx.output === undefined ? {} : { output: ctx.output }),
      ...(typeof body.location === 'number' ? { location: body.location } : {}),
    });
  }

  /** Lengths of what a walk appends to, so a walk can be undone ({@link rewind}). */
  private mark(): WalkMark {
    return {
      columns: this.columns.length,
      opaqueCode: this.opaqueCode.length,
      unfilteredWrites: this.unfilteredWrites.length,
      copies: this.copies.length,
    };
  }

  private rewind(mark: WalkMark): void {
    this.columns.length = mark.columns;
    this.opaqueCode.length = mark.opaqueCode;
    this.unfilteredWrites.length = mark.unfilteredWrites;
    this.copies.length = mark.copies;
  }

  select(body: Body, parent: Scope, output: OutputSink): Lineage {
    const scope = new Scope(parent);
    this.withClause(body.withClause, scope);
    if (body.op && body.op !== 'SETOP_NONE') {
      // The result of UNION / INTERSECT / EXCEPT carries no column origin, so masking cannot apply to it.
      const branch = output === 'client' || output === 'derived' ? 'set_operation' : output;
      const left = this.select(asBody(body.larg) ?? {}, scope, branch);
      this.select(asBody(body.rarg) ?? {}, scope, branch);
      this.sortLike(body.sortClause, 'order_by', scope, left);
      this.visit([body.limitOffset, body.limitCount], { scope, clause: 'limit', via: [] });
      this.locking ||= asList(body.lockingClause).length > 0;
      return { items: left.items.map((i) => (i.name === undefined ? { sources: [] } : { name: i.name, sources: [] })) };
    }
    if (body.valuesLists) {
      this.visit(body.valuesLists, { scope, clause: 'values', via: [] });
      return EMPTY;
    }
    const into = asBody(body.intoClause);
    if (into) {
      const rel = asBody(into.rel);
      if (rel) {
        this.into = this.relationName(rel);
        this.addTable(this.into, 'write');
      }
      this.writes = true;
      output = 'into';
    }
    for (const item of asList(body.fromClause)) this.fromItem(item, scope);

    const outputs: Lineage = { items: [] };
    for (const target of asList(body.targetList)) {
      const rt = unwrap(target)?.[1];
      if (!rt) continue;
      const start = this.columns.length;
      this.visit(rt.val, { scope, clause: 'select', via: [], output });
      const uses = this.columns.slice(start);
      const sources = uses.flatMap((u) => u.sources);
      const name = typeof rt.name === 'string' ? rt.name : targetName(rt.val);
      outputs.items.push(uses.length === 1 && uses[0]?.star ? { sources } : { name, sources });
    }
    this.visit(body.whereClause, { scope, clause: 'where', via: [] });
    this.sortLike(body.groupClause, 'group_by', scope, outputs);
    this.visit(body.havingClause, { scope, clause: 'having', via: [] });
    // `SELECT DISTINCT` is `[{}]`; `DISTINCT ON (...)` lists its expressions.
    const distinct = asList(body.distinctClause);
    if (distinct.length > 0 && distinct.every((d) => !unwrap(d))) {
      // Plain DISTINCT compares every output column, which tells which rows share a value.
      for (const item of outputs.items) {
        if (item.sources.length > 0)
          this.use({ ref: item.name ?? '*', sources: item.sources, clause: 'distinct', via: [] });
      }
    }
    this.sortLike(
      asList(body.distinctClause).filter((d) => unwrap(d)),
      'distinct_on',
      scope,
      outputs,
    );
    this.sortLike(body.sortClause, 'order_by', scope, outputs);
    this.visit(body.windowClause, { scope, clause: 'window', via: [] });
    this.visit([body.limitOffset, body.limitCount], { scope, clause: 'limit', via: [] });
    this.locking ||= asList(body.lockingClause).length > 0;
    return outputs;
  }

  /**
   * ORDER BY / GROUP BY / DISTINCT ON items: `ORDER BY 2` and `ORDER BY alias` name a select-list
   * entry, so that entry's columns count as used in this clause too.
   */
  private sortLike(list: unknown, clause: Clause, scope: Scope, outputs: Lineage): void {
    for (const raw of asList(list)) {
      const w = unwrap(raw);
      if (w?.[0] === 'GroupingSet') {
        // ROLLUP (1), CUBE (alias), GROUPING SETS ((1)): each element names an output like a plain item.
        this.sortLike(w[1].content, clause, scope, outputs);
        continue;
      }
      const node = w?.[0] === 'SortBy' ? w[1].node : raw;
      if (w?.[0] === 'SortBy') this.noteSortBy(w[1]);
      const position = intConst(node);
      let sources: ColumnSource[] | undefined;
      let ref = '';
      if (position !== undefined) {
        ref = String(position);
        // After a `*` entry the positions are unknown: any output column may be meant.
        const starred = outputs.items.some((i) => i.name === undefined);
        sources = starred ? outputs.items.flatMap((i) => i.sources) : outputs.items[position - 1]?.sources;
      } else {
        const col = unwrap(node);
        const fields = col?.[0] === 'ColumnRef' ? stringList(col[1].fields) : [];
        if (fields.length === 1 && asList(col?.[1].fields).length === 1) {
          ref = fields[0] ?? '';
          const named = outputs.items.filter((i) => i.name === ref);
          if (named.length > 0) sources = named.flatMap((i) => i.sources);
        }
      }
      if (sources && sources.length > 0) this.use({ ref, sources, clause, via: [] });
      if (position === undefined) this.visit(node, { scope, clause, via: [] });
    }
  }

  withClause(value: unknown, scope: Scope): void {
    const wc = asBody(value);
    if (!wc) return;
    const ctes: Body[] = [];
    for (const item of asList(wc.ctes)) {
      const cte = unwrap(item)?.[1];
      if (cte && typeof cte.ctename === 'string') ctes.push(cte);
    }
    if (!wc.recursive) {
      // Each CTE sees only the ones before it (a later or its own name means an outer relation).
      for (const cte of ctes) this.commonTableExpr(cte, scope);
      return;
    }
    // WITH RECURSIVE: every CTE sees every other one, later ones and itself included. Walk them
    // until what each outputs stops changing; only the last round's findings are kept.
    for (const cte of ctes) scope.ctes.set(String(cte.ctename), { items: [] });
    const mark = this.mark();
    for (let round = 0; ; round++) {
      this.rewind(mark);
      const before = ctes.map((c) => lineageKey(scope.cte(String(c.ctename)))).join('|');
      for (const cte of ctes) this.commonTableExpr(cte, scope);
      const after = ctes.map((c) => lineageKey(scope.cte(String(c.ctename)))).join('|');
      if (after === before) return;
      if (round >= MAX_RECURSIVE_ROUNDS) {
        this.opaqueCode.push('WITH RECURSIVE whose column lineage could not be settled');
        return;
      }
    }
  }

  /** Walks one CTE and records what it outputs under its name. */
  private commonTableExpr(cte: Body, scope: Scope): void {
    const inner = unwrap(cte.ctequery);
    if (inner && inner[0] !== 'SelectStmt') {
      this.subKinds.add(statementKind(inner[0], inner[1]));
      this.dataModifyingCte = true;
      this.writes = true;
    }
    const lineage = uniqueSources(
      renameLineage(this.query(cte.ctequery, scope, 'derived'), stringList(cte.aliascolnames)),
    );
    scope.ctes.set(String(cte.ctename), lineage);
    // SEARCH ... SET seq / CYCLE ... SET mark USING path add columns holding the listed columns'
    // values (arrays of rows), and order or compare by them.
    const entry: RangeEntry = { lineage };
    const clauses: Array<[unknown, string, string]> = [
      [cte.search_clause, 'search_col_list', 'SEARCH clause'],
      [cte.cycle_clause, 'cycle_col_list', 'CYCLE clause'],
    ];
    for (const [clause, field, label] of clauses) {
      const body = unwrap(clause)?.[1] ?? asBody(clause);
      for (const name of stringList(body?.[field])) {
        this.use({
          ref: name,
          sources: columnOf(entry, name),
          clause: 'select',
          via: [{ kind: 'expression', name: label }],
          output: 'derived',
        });
      }
    }
  }

  fromItem(node: unknown, scope: Scope): void {
    const w = unwrap(node);
    if (!w) return;
    const [type, body] = w;
    const alias = asBody(body.alias);
    const aliasName = typeof alias?.aliasname === 'string' ? alias.aliasname : undefined;
    const colnames = stringList(alias?.colnames);
    switch (type) {
      case 'RangeVar':
        scope.entries.push(this.rangeEntry(body, scope));
        return;
      case 'RangeSubselect': {
        const lineage = this.query(body.subquery, scope, 'derived');
        scope.entries.push({ ...(aliasName ? { alias: aliasName } : {}), lineage: renameLineage(lineage, colnames) });
        return;
      }
      case 'JoinExpr': {
        const before = scope.entries.length;
        this.fromItem(body.larg, scope);
        this.fromItem(body.rarg, scope);
        const members = scope.entries.slice(before);
        for (const name of stringList(body.usingClause)) {
          this.use({ ref: name, sources: members.flatMap((m) => columnOf(m, name)), clause: 'join', via: [] });
        }
        if (body.isNatural) {
          // NATURAL JOIN compares every same-named column of both sides.
          for (const m of members) {
            this.use({ ref: m.alias ?? '', sources: wholeRowOf(m), clause: 'join', via: [], wholeRow: true });
          }
        }
        this.visit(body.quals, { scope, clause: 'join', via: [] });
        const usingAlias = asBody(body.join_using_alias)?.aliasname;
        if (typeof usingAlias === 'string') {
          // `JOIN ... USING (a) AS u`: `u.a` is the merged USING column.
          const items = stringList(body.usingClause).map((name) => ({
            name,
            sources: members.flatMap((m) => columnOf(m, name)),
          }));
          scope.entries.push({ alias: usingAlias, lineage: { items } });
        }
        if (aliasName) {
          scope.entries.splice(before);
          // `(a JOIN b) AS j(x, y)` renames the join's columns by position, which the text cannot
          // map to a and b's columns: each new name may be any of their columns (fail closed).
          scope.entries.push(
            colnames.length > 0
              ? {
                  alias: aliasName,
                  lineage: renameLineage({ items: [{ sources: members.flatMap(wholeRowOf) }] }, colnames),
                }
              : { alias: aliasName, members },
          );
        }
        return;
      }
      case 'RangeTableSample':
        this.fromItem(body.relation, scope);
        this.visit([body.args, body.repeatable], { scope, clause: 'from_function', via: [] });
        return;
      default: {
        // RangeFunction, ROWS FROM, XMLTABLE, JSON_TABLE: columns come out of functions; their
        // arguments are walked (a masked column passed to one is inside a function).
        const rest = { ...body };
        delete rest.alias;
        this.visit(rest, { scope, clause: 'from_function', via: [] });
        scope.entries.push({ ...(aliasName ? { alias: aliasName } : {}), lineage: EMPTY });
      }
    }
  }

  private rangeEntry(body: Body, scope: Scope): RangeEntry {
    const name = this.relationName(body);
    const alias = asBody(body.alias);
    const aliasName = typeof alias?.aliasname === 'string' ? alias.aliasname : name.name;
    const colnames = stringList(alias?.colnames);
    if (name.schema === undefined) {
      const cte = scope.cte(name.name);
      if (cte) return { alias: aliasName, lineage: renameLineage(cte, colnames) };
    }
    this.addTable(name, 'read');
    if (colnames.length > 0) {
      // `FROM t AS x(a, b)` renames t's first columns, which the text alone cannot name.
      return { alias: aliasName, lineage: renameLineage({ items: [{ sources: [source(name, '*')] }] }, colnames) };
    }
    return { alias: aliasName, table: name };
  }

  /** The written table of INSERT/UPDATE/DELETE/MERGE, as a scope entry. */
  private target(body: Body): RangeEntry {
    const rel = asBody(body.relation) ?? {};
    const name = this.relationName(rel);
    this.addTable(name, 'write');
    this.writes = true;
    const alias = asBody(rel.alias);
    return { alias: typeof alias?.aliasname === 'string' ? alias.aliasname : name.name, table: name };
  }

  /**
   * RETURNING: the target's row is also visible as `old` and `new` (PostgreSQL 18), or under the
   * names `RETURNING WITH (OLD AS o, NEW AS n)` gives them.
   */
  private returning(value: unknown, parent: Scope, target: RangeEntry): Lineage {
    const rc = asBody(value);
    const outputs: Lineage = { items: [] };
    const exprs = asList(rc?.exprs);
    if (exprs.length === 0) return outputs;
    const scope = new Scope(parent);
    const names = ['old', 'new'];
    for (const option of asList(rc?.options)) {
      const name = unwrap(option)?.[1].value;
      if (typeof name === 'string') names.push(name);
    }
    // `RETURNING *` covers every relation of the statement (UPDATE ... FROM, DELETE ... USING) too.
    scope.entries.push(...parent.entries);
    for (const alias of names) scope.entries.push({ ...target, alias });
    for (const item of exprs) {
      const rt = unwrap(item)?.[1];
      if (!rt) continue;
      const start = this.columns.length;
      this.visit(rt.val, { scope, clause: 'returning', via: [] });
      const sources = this.columns.slice(start).flatMap((u) => u.sources);
      outputs.items.push({ name: typeof rt.name === 'string' ? rt.name : targetName(rt.val), sources });
    }
    return outputs;
  }

  insert(body: Body, parent: Scope): Lineage {
    const scope = new Scope(parent);
    this.withClause(body.withClause, scope);
    const target = this.target(body);
    if (body.selectStmt) this.query(body.selectStmt, scope, 'insert');
    const oc = asBody(body.onConflictClause);
    if (oc) {
      const cs = new Scope(scope);
      cs.entries.push(target, { alias: 'excluded', ...(target.table ? { table: target.table } : {}) });
      const infer = asBody(oc.infer);
      for (const elem of asList(infer?.indexElems)) {
        const ie = unwrap(elem)?.[1];
        if (typeof ie?.name === 'string') {
          this.use({ ref: ie.name, sources: columnOf(target, ie.name), clause: 'on_conflict', via: [] });
        }
        this.visit(ie?.expr, { scope: cs, clause: 'on_conflict', via: [] });
      }
      this.visit(infer?.whereClause, { scope: cs, clause: 'on_conflict', via: [] });
      for (const t of asList(oc.targetList)) {
        this.visit(unwrap(t)?.[1].val, { scope: cs, clause: 'update_set', via: [] });
      }
      this.visit(oc.whereClause, { scope: cs, clause: 'where', via: [] });
    }
    const rs = new Scope(scope);
    rs.entries.push(target);
    return this.returning(body.returningClause, rs, target);
  }

  update(body: Body, parent: Scope): { lineage: Lineage; hasWhere: boolean } {
    const scope = new Scope(parent);
    this.withClause(body.withClause, scope);
    const target = this.target(body);
    scope.entries.push(target);
    for (const item of asList(body.fromClause)) this.fromItem(item, scope);
    for (const t of asList(body.targetList)) {
      this.visit(unwrap(t)?.[1].val, { scope, clause: 'update_set', via: [] });
    }
    const hasWhere = this.filter(body.whereClause, scope, 'update', target);
    return { lineage: this.returning(body.returningClause, scope, target), hasWhere };
  }

  delete(body: Body, parent: Scope): { lineage: Lineage; hasWhere: boolean } {
    const scope = new Scope(parent);
    this.withClause(body.withClause, scope);
    const target = this.target(body);
    scope.entries.push(target);
    for (const item of asList(body.usingClause)) this.fromItem(item, scope);
    const hasWhere = this.filter(body.whereClause, scope, 'delete', target);
    return { lineage: this.returning(body.returningClause, scope, target), hasWhere };
  }

  /** Walks an UPDATE/DELETE WHERE; one that references no column (`WHERE true`, `WHERE 1=1`) filters nothing. */
  private filter(where: unknown, scope: Scope, kind: 'update' | 'delete', target: RangeEntry): boolean {
    const columnsBefore = this.columns.length;
    const currentOfBefore = this.currentOfSeen;
    this.visit(where, { scope, clause: 'where', via: [] });
    const real = this.columns.length > columnsBefore || this.currentOfSeen > currentOfBefore;
    if (!real) this.unfilteredWrites.push({ kind, table: target.table ?? { name: target.alias ?? '' } });
    return real;
  }

  merge(body: Body, parent: Scope): Lineage {
    const scope = new Scope(parent);
    this.withClause(body.withClause, scope);
    const target = this.target(body);
    scope.entries.push(target);
    this.fromItem(body.sourceRelation, scope);
    this.visit(body.joinCondition, { scope, clause: 'join', via: [] });
    for (const item of asList(body.mergeWhenClauses)) {
      const wc = unwrap(item)?.[1];
      if (!wc) continue;
      this.visit(wc.condition, { scope, clause: 'where', via: [] });
      for (const t of asList(wc.targetList)) this.visit(unwrap(t)?.[1].val, { scope, clause: 'update_set', via: [] });
      this.visit(wc.values, { scope, clause: 'values', via: [] });
    }
    return this.returning(body.returningClause, scope, target);
  }
}

/** The column name Postgres gives an unaliased select-list entry. */
function targetName(val: unknown): string {
  const w = unwrap(val);
  if (!w) return '?column?';
  if (w[0] === 'ColumnRef') {
    const fields = asList(w[1].fields);
    return stringValue(fields[fields.length - 1]) ?? '?column?';
  }
  if (w[0] === 'FuncCall') {
    const names = stringList(w[1].funcname);
    return names[names.length - 1] ?? '?column?';
  }
  if (w[0] === 'TypeCast') return targetName(w[1].arg);
  return '?column?';
}

/** Rounds of a WITH RECURSIVE walk before its lineage is given up as unknowable (opaque). */
const MAX_RECURSIVE_ROUNDS = 16;

interface WalkMark {
  columns: number;
  opaqueCode: number;
  unfilteredWrites: number;
  copies: number;
}
