import { QUERY_NODES } from './expressions.js';
import { asBody, asList, defElem, stringList, stringValue, unwrap, type Body } from './nodes.js';
import { parsePlpgsql, parseSql } from './parser.js';
import { QueryWalker } from './queries.js';
import { Scope, source } from './scope.js';
import { isDdlKind, statementKind, type StatementKind } from './statement-kinds.js';
import { ANY_TABLE, type CopyInfo, type OutputSink } from './types.js';
import { plpgsqlStatements } from './plpgsql-text.js';

/** DROP object types whose names are relations. */
const RELATION_OBJECTS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_INDEX',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
]);

/** Languages whose bodies are SQL the parser can read. */
const PARSED_LANGUAGES = new Set(['sql', 'plpgsql']);

/** Walks one top-level statement (and, through it, EXPLAIN/PREPARE targets and routine bodies). */
export class StatementWalker extends QueryWalker {
  innerKind?: StatementKind;
  explainAnalyze?: boolean;
  hasWhere?: boolean;
  copy?: CopyInfo;

  /**
   * @param text the statement's own SQL text (PL/pgSQL bodies are parsed from it)
   */
  constructor(
    readonly kind: StatementKind,
    private readonly text: string,
  ) {
    super(kind === 'truncate' ? 'write' : isDdlKind(kind) ? 'ddl' : 'read');
  }

  statement(type: string, body: Body, scope: Scope, output: OutputSink, top: boolean): void {
    if (!top) this.subKinds.add(statementKind(type, body));
    this.noteStatement(type, body);
    switch (type) {
      case 'SelectStmt':
        this.select(body, scope, output);
        return;
      case 'UpdateStmt':
      case 'DeleteStmt': {
        const result = type === 'UpdateStmt' ? this.update(body, scope) : this.delete(body, scope);
        if (top) this.hasWhere = result.hasWhere;
        return;
      }
      case 'InsertStmt':
      case 'MergeStmt':
        this.query({ [type]: body }, scope, output);
        return;
      case 'CopyStmt':
        return this.copyStmt(body, scope, top);
      case 'ExecuteStmt':
        // What a prepared statement returns is not in this text. Sent to the client its rows carry
        // their column origins (the agent masks them); stored (CREATE TABLE AS EXECUTE) they may
        // be any column of any table.
        if (output !== 'client') {
          const ref = `EXECUTE ${String(body.name ?? '')}`;
          this.use({
            ref,
            sources: [{ table: ANY_TABLE, column: '*' }],
            clause: 'select',
            via: [],
            output,
            star: true,
          });
        }
        this.visit(body.params, { scope, clause: 'other', via: [] });
        return;
      case 'ExplainStmt':
      case 'PrepareStmt':
      case 'DeclareCursorStmt':
      case 'CreateTableAsStmt': {
        const inner = unwrap(body.query);
        if (!inner) return;
        if (top) this.innerKind = statementKind(inner[0], inner[1]);
        if (type === 'ExplainStmt') {
          const analyze = defElem(body.options, 'analyze');
          this.explainAnalyze = analyze.found && !isFalse(analyze.arg);
        }
        let innerOutput = output;
        if (type === 'CreateTableAsStmt') {
          const rel = asBody(asBody(body.into)?.rel);
          if (rel) {
            this.into = this.relationName(rel);
            this.addTable(this.into, 'write');
          }
          this.writes = true;
          innerOutput = 'into';
        }
        this.statement(inner[0], inner[1], scope, innerOutput, false);
        return;
      }
      case 'ViewStmt': {
        const view = asBody(body.view);
        if (view) this.addTable(this.relationName(view), 'ddl');
        this.query(body.query, scope, 'definition');
        return;
      }
      case 'TruncateStmt':
        this.writes = true;
        for (const rel of asList(body.relations)) {
          const rv = unwrap(rel);
          if (rv) this.addTable(this.relationName(rv[1]), 'write');
        }
        return;
      case 'RefreshMatViewStmt':
        this.writes = true;
        break;
      case 'DropStmt':
        return this.dropStmt(body);
      case 'GrantStmt':
        if (body.objtype === 'OBJECT_SCHEMA' || body.targtype === 'ACL_TARGET_ALL_IN_SCHEMA') {
          for (const s of stringList(body.objects)) this.schemas.add(s);
        }
        break;
      case 'CreateSchemaStmt':
        if (typeof body.schemaname === 'string') this.schemas.add(body.schemaname);
        break;
      case 'DoStmt': {
        const lang = stringValue(defElem(body.args, 'language').arg) ?? 'plpgsql';
        const code = stringValue(defElem(body.args, 'as').arg) ?? '';
        this.routineBody(lang, code, top ? this.text : `DO ${dollarQuote(code)}`, 'DO block');
        return;
      }
      case 'CreateFunctionStmt':
        return this.createFunction(body, top);
      default:
        if (QUERY_NODES.has(type)) {
          this.query({ [type]: body }, scope, output);
          return;
        }
    }
    // Anything else: walk the whole node. A statement about one relation (ALTER TABLE, CREATE
    // INDEX/POLICY/TRIGGER, ...) gets that relation in scope, so column names in its expressions
    // resolve to it.
    const gs = new Scope(scope);
    const rel = asBody(body.relation);
    if (rel && typeof rel.relname === 'string') {
      const name = this.relationName(rel);
      gs.entries.push({ alias: name.name, table: name });
      if (type === 'IndexStmt' && body.unique) {
        // A unique index over a masked column reports duplicates with their values.
        for (const elem of asList(body.indexParams)) {
          const ie = unwrap(elem)?.[1];
          if (typeof ie?.name === 'string')
            this.use({ ref: ie.name, sources: [source(name, ie.name)], clause: 'unique_key', via: [] });
        }
      }
    }
    this.visit(body, { scope: gs, clause: 'other', via: [], output: 'definition' });
  }

  private copyStmt(body: Body, scope: Scope, top: boolean): void {
    const isFrom = Boolean(body.is_from);
    const filename = typeof body.filename === 'string' ? body.filename : undefined;
    const copy: CopyInfo = {
      direction: isFrom ? 'from' : 'to',
      format: copyFormat(body.options),
      target: body.is_program ? 'program' : filename !== undefined ? 'file' : 'stdio',
      query: Boolean(body.query),
    };
    if (filename !== undefined) copy.filename = filename;
    const rel = asBody(body.relation);
    if (rel) {
      const name = this.relationName(rel);
      copy.relation = name;
      const columns = stringList(body.attlist);
      if (columns.length > 0) copy.columns = columns;
      this.addTable(name, isFrom ? 'write' : 'read');
      if (isFrom) this.writes = true;
      else if (columns.length === 0) {
        this.use({ ref: '*', sources: [source(name, '*')], clause: 'select', via: [], output: 'copy', star: true });
      } else {
        for (const c of columns)
          this.use({ ref: c, sources: [source(name, c)], clause: 'select', via: [], output: 'copy' });
      }
    }
    if (body.query) this.query(body.query, scope, 'copy');
    // COPY FROM ... WHERE filters incoming rows, not stored ones: walked for functions only.
    this.visit(body.whereClause, { scope, clause: 'other', via: [] });
    this.copies.push(copy);
    if (top) this.copy = copy;
  }

  private dropStmt(body: Body): void {
    const type = String(body.removeType ?? '');
    for (const object of asList(body.objects)) {
      if (type === 'OBJECT_SCHEMA') {
        const s = stringValue(object);
        if (s !== undefined) this.schemas.add(s);
      } else if (RELATION_OBJECTS.has(type)) {
        const parts = stringList(unwrap(object)?.[1].items);
        const name = parts[parts.length - 1];
        if (name === undefined) continue;
        const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
        this.addTable(schema === undefined ? { name } : { schema, name }, 'ddl');
      }
    }
  }

  private createFunction(body: Body, top: boolean): void {
    const lang = (stringValue(defElem(body.options, 'language').arg) ?? 'sql').toLowerCase();
    const names = stringList(body.funcname);
    const label = `function ${names.join('.')}`;
    // Defining a routine changes nothing yet; what its body reads and calls still counts.
    const writes = this.writes;
    if (body.sql_body) {
      this.visit(body.sql_body, { scope: new Scope(), clause: 'other', via: [], output: 'definition' });
    } else {
      const as = defElem(body.options, 'as').arg;
      const code = stringList(unwrap(as)?.[1].items)[0] ?? stringValue(as) ?? '';
      if (lang === 'plpgsql' && !top) this.opaqueCode.push(`nested PL/pgSQL ${label}`);
      else this.routineBody(lang, code, this.text, label);
    }
    this.writes = writes;
  }

  /** Analyzes the SQL inside a DO block or function body; what cannot be read is recorded as opaque. */
  private routineBody(language: string, code: string, statementText: string, label: string): void {
    const lang = language.toLowerCase();
    if (!PARSED_LANGUAGES.has(lang)) {
      this.opaqueCode.push(`${label} in language ${lang}`);
      return;
    }
    if (lang === 'sql') {
      this.embedded(code, label);
      return;
    }
    const tree = parsePlpgsql(statementText);
    if (!tree.ok) {
      this.opaqueCode.push(`${label}: PL/pgSQL could not be parsed (${tree.message})`);
      return;
    }
    this.plpgsql(tree.tree, label);
  }

  /**
   * Walks a PL/pgSQL tree generically: every `PLpgSQL_expr` anywhere is SQL to analyze, and any
   * other string field not known to hold a name or message makes the body opaque (fail closed),
   * so SQL in a construct this walker does not know is never skipped.
   */
  private plpgsql(value: unknown, label: string): void {
    if (Array.isArray(value)) {
      for (const v of value) this.plpgsql(v, label);
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value as Body)) {
      if (key === 'PLpgSQL_stmt_dynexecute' || key === 'PLpgSQL_stmt_dynfors' || key === 'dynquery') {
        this.opaqueCode.push(`${label}: dynamic SQL (EXECUTE)`);
      }
      if (key === 'PLpgSQL_expr') {
        const expr = asBody(child);
        const pieces =
          typeof expr?.query === 'string' ? plpgsqlStatements(expr.query, Number(expr.parseMode ?? 0)) : undefined;
        if (pieces === undefined) this.opaqueCode.push(`${label}: PL/pgSQL expression Warden could not read`);
        else for (const sql of pieces) this.embedded(sql, label);
        continue;
      }
      if (typeof child === 'string' && !PLPGSQL_TEXT_FIELDS.has(key)) {
        this.opaqueCode.push(`${label}: PL/pgSQL field ${key} not understood`);
      }
      this.plpgsql(child, label);
    }
  }

  /** Parses SQL found inside a body and walks it as part of this statement. */
  private embedded(sql: string, label: string): void {
    if (sql.trim() === '') return;
    const parsed = parseSql(sql);
    if (!parsed.ok) {
      this.opaqueCode.push(`${label}: embedded SQL could not be parsed (${parsed.message})`);
      return;
    }
    for (const raw of parsed.stmts) {
      const w = unwrap(raw.stmt);
      if (w) this.statement(w[0], w[1], new Scope(), 'definition', false);
    }
  }
}

/** The COPY data format; an unknown value is taken as binary (fail closed; the server refuses it anyway). */
function copyFormat(options: unknown): CopyInfo['format'] {
  const format = defElem(options, 'format');
  if (!format.found) return 'text';
  const value = stringValue(format.arg);
  return value === 'text' || value === 'csv' ? value : 'binary';
}

/**
 * String fields of the PL/pgSQL tree that hold names, types, labels or messages, never SQL that
 * runs (expressions are always `PLpgSQL_expr` nodes). Any other string field is unknown.
 */
const PLPGSQL_TEXT_FIELDS: ReadonlySet<string> = new Set([
  'refname',
  'typname',
  'fieldname',
  'label',
  'message',
  'condname',
  'sqlstate',
  'kind',
  'name',
  'varname',
]);

function isFalse(arg: unknown): boolean {
  const s = stringValue(arg);
  if (s !== undefined) return ['false', 'off', '0', 'no'].includes(s.toLowerCase());
  const w = unwrap(arg);
  if (w?.[0] === 'Boolean') return !w[1].boolval;
  if (w?.[0] === 'Integer') return !w[1].ival;
  return false;
}

function dollarQuote(code: string): string {
  let tag = '$w$';
  for (let i = 0; code.includes(tag); i++) tag = `$w${i}$`;
  return `${tag}${code}${tag}`;
}
