import { definedFunctionNames, setConfigChange, statementSettingChanges } from '../session/setting-changes.js';
import { asBody, asList, dotted, stringList, unwrap, type Body } from './nodes.js';
import { columnOf, Scope, source, wholeRowOf, type Lineage } from './scope.js';
import { statementKind, type StatementKind } from './statement-kinds.js';
import type {
  Clause,
  ColumnSource,
  CopyInfo,
  ColumnUse,
  ExprWrapper,
  FunctionRef,
  OutputSink,
  QualifiedName,
  SettingChange,
  TableAccess,
  TableRef,
  UnfilteredWrite,
} from './types.js';

export type UseInput = Pick<ColumnUse, 'ref' | 'sources' | 'clause' | 'via'> &
  Partial<Pick<ColumnUse, 'output' | 'wholeRow' | 'star' | 'location'>>;

export interface Ctx {
  scope: Scope;
  clause: Clause;
  via: ExprWrapper[];
  output?: OutputSink;
}

const ACCESS_RANK: Record<TableAccess, number> = { read: 0, write: 1, ddl: 2 };

/** Nodes that only structure other nodes: walked through without counting as an expression around a column. */
const STRUCTURAL = new Set(['List', 'ResTarget', 'SortBy', 'CaseWhen', 'WindowDef', 'DefElem', 'GroupingSet']);

/** Nodes with nothing to find inside. */
const LEAVES = new Set(['A_Const', 'ParamRef', 'String', 'Integer', 'Float', 'Boolean', 'BitString', 'TypeName']);

/** Statement nodes that can appear nested (CTEs, subqueries, rule actions, function bodies). */
export const QUERY_NODES = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Readable names for expression nodes in block messages. */
const EXPRESSION_NAMES: Record<string, string> = {
  CaseExpr: 'CASE',
  CoalesceExpr: 'COALESCE',
  MinMaxExpr: 'GREATEST/LEAST',
  NullIfExpr: 'NULLIF',
  NullTest: 'IS NULL test',
  BooleanTest: 'boolean test',
  A_Indirection: 'field or subscript access',
  CollateClause: 'COLLATE',
  RowExpr: 'ROW constructor',
  A_ArrayExpr: 'ARRAY constructor',
  XmlExpr: 'XML expression',
  XmlSerialize: 'XMLSERIALIZE',
  MultiAssignRef: 'multi-column assignment',
  GroupingFunc: 'GROUPING()',
};

/** Operators whose parser form hides the SQL spelling (`LIKE` is `~~`). */
const A_EXPR_NAMES: Record<string, string> = {
  AEXPR_LIKE: 'LIKE',
  AEXPR_ILIKE: 'ILIKE',
  AEXPR_SIMILAR: 'SIMILAR TO',
  AEXPR_IN: 'IN',
  AEXPR_BETWEEN: 'BETWEEN',
  AEXPR_NOT_BETWEEN: 'NOT BETWEEN',
  AEXPR_BETWEEN_SYM: 'BETWEEN SYMMETRIC',
  AEXPR_NOT_BETWEEN_SYM: 'NOT BETWEEN SYMMETRIC',
  AEXPR_DISTINCT: 'IS DISTINCT FROM',
  AEXPR_NOT_DISTINCT: 'IS NOT DISTINCT FROM',
  AEXPR_NULLIF: 'NULLIF',
};

/** BETWEEN forms are written with a keyword but run comparison operators. */
const BETWEEN_OPERATORS = ['<', '<=', '>', '>='];

/** Aggregates by name, for labelling (`max(email)` reads as an aggregate, not a plain function). */
const AGGREGATES = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'xmlagg',
  'bool_and',
  'bool_or',
  'every',
  'bit_and',
  'bit_or',
  'bit_xor',
  'mode',
  'percentile_cont',
  'percentile_disc',
  'any_value',
  'range_agg',
  'range_intersect_agg',
]);

/**
 * Walks expressions and collects what a statement references. Query-level structure (SELECT,
 * INSERT, ..., FROM lists, CTEs) lives in the subclass; this class calls it through {@link query}.
 */
export abstract class ExpressionWalker {
  readonly columns: ColumnUse[] = [];
  readonly schemas = new Set<string>();
  readonly opaqueCode: string[] = [];
  readonly unfilteredWrites: UnfilteredWrite[] = [];
  readonly subKinds = new Set<StatementKind>();
  readonly copies: CopyInfo[] = [];
  writes = false;
  dataModifyingCte = false;
  locking = false;
  currentOfSeen = 0;
  private readonly tableMap = new Map<string, TableRef>();
  private readonly functionMap = new Map<string, FunctionRef>();
  private readonly operatorMap = new Map<string, QualifiedName>();
  private readonly castTypeMap = new Map<string, QualifiedName>();
  private readonly settingChanges: SettingChange[] = [];

  constructor(protected readonly relationAccess: TableAccess) {}

  /** Analyzes a nested query node and returns what it outputs. */
  abstract query(node: unknown, scope: Scope, output: OutputSink): Lineage;

  get tables(): TableRef[] {
    return [...this.tableMap.values()];
  }

  get functions(): FunctionRef[] {
    return [...this.functionMap.values()];
  }

  get operators(): QualifiedName[] {
    return [...this.operatorMap.values()];
  }

  get castTypes(): QualifiedName[] {
    return [...this.castTypeMap.values()];
  }

  /** Setting changes; a write to pg_settings counts as set_config of an unknown setting (its rule calls set_config). */
  get settings(): SettingChange[] {
    const pgSettings = [...this.tableMap.values()].some(
      (t) =>
        t.access !== 'read' &&
        t.name.toLowerCase() === 'pg_settings' &&
        (t.schema === undefined || t.schema.toLowerCase() === 'pg_catalog'),
    );
    return pgSettings ? [...this.settingChanges, { name: undefined, via: 'set_config' }] : this.settingChanges;
  }

  /**
   * What a statement node itself says, before its parts are walked: the settings it changes and
   * the functions a definition (operator, aggregate, cast, type, trigger, ...) will call.
   */
  noteStatement(type: string, body: Body): void {
    const settings = statementSettingChanges(type, body);
    if (settings.length > 0) this.settingChanges.push(...settings);
    for (const names of definedFunctionNames(type, body)) this.addFunction(names, undefined);
  }

  /** `ORDER BY x USING op`. */
  noteSortBy(body: Body): void {
    if (body.useOp) this.addOperator(stringList(body.useOp));
  }

  private addOperator(names: string[]): void {
    const name = names[names.length - 1];
    if (name === undefined) return;
    const schema = names.length > 1 ? names[names.length - 2] : undefined;
    const key = dotted([schema, name]);
    if (!this.operatorMap.has(key)) this.operatorMap.set(key, schema === undefined ? { name } : { schema, name });
  }

  private addCastType(typeName: Body | undefined): void {
    const names = stringList(typeName?.names);
    const name = names[names.length - 1];
    if (name === undefined) return;
    const schema = names.length > 1 ? names[names.length - 2] : undefined;
    const key = dotted([schema, name]);
    if (!this.castTypeMap.has(key)) this.castTypeMap.set(key, schema === undefined ? { name } : { schema, name });
  }

  private addFunction(names: string[], location: number | undefined, argCount?: number): FunctionRef {
    const name = names[names.length - 1] ?? '';
    const schema = names.length > 1 ? names[names.length - 2] : undefined;
    const key = dotted([schema, name]);
    let ref = this.functionMap.get(key);
    if (!ref) {
      ref = schema === undefined ? { name } : { schema, name };
      if (location !== undefined) ref.location = location;
      this.functionMap.set(key, ref);
    }
    if (argCount !== undefined) {
      if (!ref.argCounts) ref.argCounts = [argCount];
      else if (!ref.argCounts.includes(argCount)) ref.argCounts.push(argCount);
    }
    if (schema !== undefined) this.schemas.add(schema);
    return ref;
  }

  addTable(name: QualifiedName, access: TableAccess): void {
    const key = name.schema === undefined ? name.name : `${name.schema}.${name.name}`;
    const existing = this.tableMap.get(key);
    if (!existing) {
      this.tableMap.set(
        key,
        name.schema === undefined ? { name: name.name, access } : { schema: name.schema, name: name.name, access },
      );
      if (name.schema !== undefined) this.schemas.add(name.schema);
    } else if (ACCESS_RANK[access] > ACCESS_RANK[existing.access]) existing.access = access;
  }

  /** A table from a bare or wrapped RangeVar body. */
  relationName(body: Body): QualifiedName {
    const name = typeof body.relname === 'string' ? body.relname : '';
    return typeof body.schemaname === 'string' ? { schema: body.schemaname, name } : { name };
  }

  use(use: UseInput): void {
    // One object shape for every use (optional fields present as undefined) keeps property access monomorphic.
    this.columns.push({
      ref: use.ref,
      sources: use.sources,
      clause: use.clause,
      via: use.via,
      output: use.clause === 'select' ? use.output : undefined,
      wholeRow: use.wholeRow ?? false,
      star: use.star ?? false,
      location: use.location,
    });
  }

  /** Walks any part of the tree: arrays, wrapped nodes and bare structs alike. */
  visit(value: unknown, ctx: Ctx): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, ctx);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const w = unwrap(value);
    if (w) {
      this.node(w[0], w[1], ctx);
      return;
    }
    const body = value as Body;
    if (typeof body.relname === 'string') {
      // A bare RangeVar (`relation`, `rel`, ... fields of DDL and utility statements).
      this.addTable(this.relationName(body), this.relationAccess);
      return;
    }
    if (Array.isArray(body.funcname) && typeof body.funcformat === 'string') {
      // A bare FuncCall (`CALL p()` keeps its call in a field typed FuncCall).
      this.funcCall(body, ctx);
      return;
    }
    for (const key in body) this.visit(body[key], ctx);
  }

  protected node(type: string, body: Body, ctx: Ctx): void {
    if (LEAVES.has(type)) return;
    switch (type) {
      case 'ColumnRef':
        return this.columnRef(body, ctx);
      case 'FuncCall':
        return this.funcCall(body, ctx);
      case 'TypeCast': {
        const typeName = asBody(body.typeName);
        this.addCastType(typeName);
        const name = typeName ? stringList(typeName.names).join('.') : 'type';
        return this.visit(body.arg, wrap(ctx, 'cast', name));
      }
      case 'A_Expr': {
        const kind = String(body.kind ?? 'AEXPR_OP');
        if (kind.includes('BETWEEN')) for (const op of BETWEEN_OPERATORS) this.addOperator([op]);
        else this.addOperator(stringList(body.name));
        const name = A_EXPR_NAMES[kind] ?? (stringList(body.name).join(' ') || kind);
        const inner = wrap(ctx, 'operator', name);
        this.visit(body.lexpr, inner);
        return this.visit(body.rexpr, inner);
      }
      case 'BoolExpr':
        return this.visit(body.args, wrap(ctx, 'operator', String(body.boolop ?? 'BOOL').replace(/_EXPR$/, '')));
      case 'SubLink':
        return this.subLink(body, ctx);
      case 'RangeVar':
        this.addTable(this.relationName(body), this.relationAccess);
        return;
      case 'Constraint':
        if (body.contype === 'CONSTR_UNIQUE' || body.contype === 'CONSTR_PRIMARY') {
          for (const key of stringList(body.keys)) {
            this.use({ ref: key, sources: ctx.scope.resolveUnqualified(key), clause: 'unique_key', via: [] });
          }
        }
        for (const key in body) this.visit(body[key], ctx);
        return;
      case 'CurrentOfExpr':
        this.currentOfSeen++;
        return;
      case 'SortBy':
        this.noteSortBy(body);
        for (const key in body) this.visit(body[key], ctx);
        return;
      default:
        if (QUERY_NODES.has(type)) {
          // A statement inside a definition (rule actions, BEGIN ATOMIC bodies) is a nested kind too.
          this.subKinds.add(statementKind(type, body));
          this.query({ [type]: body }, ctx.scope, 'definition');
          return;
        }
        if (STRUCTURAL.has(type)) {
          for (const key in body) this.visit(body[key], ctx);
          return;
        }
        {
          const inner = wrap(ctx, 'expression', EXPRESSION_NAMES[type] ?? type);
          for (const key in body) this.visit(body[key], inner);
        }
    }
  }

  private funcCall(body: Body, ctx: Ctx): void {
    const names = stringList(body.funcname);
    const args = asList(body.args);
    const { name, schema } = this.addFunction(
      names,
      typeof body.location === 'number' ? body.location : undefined,
      args.length,
    );
    const key = dotted([schema, name]);
    if (name.toLowerCase() === 'set_config') this.settingChanges.push(setConfigChange(args));
    const kind: ExprWrapper['kind'] = body.over
      ? 'window'
      : body.agg_star || body.agg_distinct || body.agg_order || body.agg_filter || body.agg_within_group
        ? 'aggregate'
        : AGGREGATES.has(name)
          ? 'aggregate'
          : 'function';
    const inner = wrap(ctx, kind, key);
    this.visit(body.args, inner);
    this.visit(body.agg_order, inner);
    this.visit(body.agg_filter, inner);
    this.visit(body.over, inner);
  }

  private subLink(body: Body, ctx: Ctx): void {
    const type = String(body.subLinkType ?? 'EXPR_SUBLINK');
    const inner = wrap(ctx, 'subquery', type.replace(/_SUBLINK$/, '').toLowerCase());
    const operName = stringList(body.operName);
    if (operName.length > 0) this.addOperator(operName);
    else if (type === 'ANY_SUBLINK') this.addOperator(['=']); // `x IN (subquery)`
    if (body.testexpr) this.visit(body.testexpr, wrap(inner, 'operator', stringList(body.operName).join(' ') || 'IN'));
    // EXISTS ignores its select list; every other subquery feeds its output into an expression.
    this.query(body.subselect, ctx.scope, type === 'EXISTS_SUBLINK' ? 'derived' : 'subquery');
  }

  private columnRef(body: Body, ctx: Ctx): void {
    const names: string[] = [];
    let star = false;
    for (const field of asList(body.fields)) {
      const w = unwrap(field);
      if (w?.[0] === 'String') names.push(typeof w[1].sval === 'string' ? w[1].sval : '');
      else if (w?.[0] === 'A_Star') star = true;
    }
    const ref = star ? [...names, '*'].join('.') : names.join('.');
    const location = typeof body.location === 'number' ? body.location : undefined;
    const { scope } = ctx;
    if (star) {
      let sources: ColumnSource[];
      if (names.length === 0) sources = scope.starSources();
      else {
        const entry = scope.findEntry(names);
        sources = entry ? wholeRowOf(entry) : [fallbackTable(names, '*')];
      }
      // `*` / `t.*` as a select-list entry expands into columns that keep their origin; anywhere
      // else (`row_to_json(t.*)`, `count(t.*)`) it is a composite value of the whole row.
      const plainTarget = ctx.clause === 'select' && ctx.via.length === 0;
      this.record(ctx, ref, location, sources, !plainTarget, plainTarget);
      return;
    }
    const column = names[names.length - 1] ?? '';
    if (names.length === 1) {
      this.record(ctx, ref, location, scope.resolveUnqualified(column));
      // A bare name that is also a relation in scope may be a whole-row reference (`SELECT t FROM t`).
      const entry = scope.findEntry(names);
      if (entry) this.record(ctx, ref, location, wholeRowOf(entry), true);
      return;
    }
    const qualifier = names.slice(0, -1);
    const entry = scope.findEntry(qualifier);
    if (entry) {
      this.record(ctx, ref, location, columnOf(entry, column));
      return;
    }
    // Unknown qualifier: assume it names a table; it may also be a composite column `col.field`.
    this.record(ctx, ref, location, [fallbackTable(qualifier, column)]);
    if (qualifier.length === 1) {
      const composite = scope.resolveUnqualified(qualifier[0] ?? '');
      this.record(ctx, ref, location, composite, false, false, [
        ...ctx.via,
        { kind: 'expression', name: 'field access' },
      ]);
    }
  }

  // A method rather than a closure: closures created per call are costly when names are kept.
  private record(
    ctx: Ctx,
    ref: string,
    location: number | undefined,
    sources: ColumnSource[],
    wholeRow = false,
    star = false,
    via = ctx.via,
  ): void {
    this.columns.push({ ref, sources, clause: ctx.clause, via, output: outputOf(ctx), wholeRow, star, location });
  }
}

export function wrap(ctx: Ctx, kind: ExprWrapper['kind'], name: string): Ctx {
  return { scope: ctx.scope, clause: ctx.clause, via: ctx.via.concat({ kind, name }), output: ctx.output };
}

function outputOf(ctx: Ctx): OutputSink | undefined {
  return ctx.clause === 'select' ? ctx.output : undefined;
}

function fallbackTable(qualifier: string[], column: string): ColumnSource {
  const table = qualifier[qualifier.length - 1] ?? '';
  const schema = qualifier.length > 1 ? qualifier[qualifier.length - 2] : undefined;
  return source(schema === undefined ? { name: table } : { schema, name: table }, column);
}
