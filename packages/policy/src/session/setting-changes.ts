import { asBody, asList, stringList, unwrap, type Body } from '../analyze/nodes.js';
import type { SettingChange, SettingVia } from '../analyze/types.js';

/**
 * Which settings (GUCs) a statement node changes, read from the parse tree: SET/RESET, the SET
 * clauses of routines, ALTER ROLE/DATABASE/SYSTEM ... SET/RESET, and set_config() calls. The
 * analysis records these so policy can refuse changes to the settings that decide how SQL is
 * lexed (session/contract.ts) and settings a deny_settings rule names.
 */

/** The setting changes a statement node makes by itself (not counting expressions inside it). */
export function statementSettingChanges(type: string, body: Body): SettingChange[] {
  switch (type) {
    case 'VariableSetStmt':
      return variableSet(body, 'set');
    case 'AlterRoleSetStmt':
      return variableSet(asBody(body.setstmt), 'alter_role');
    case 'AlterDatabaseSetStmt':
      return variableSet(asBody(body.setstmt), 'alter_database');
    case 'AlterSystemStmt':
      return variableSet(asBody(body.setstmt), 'alter_system');
    case 'CreateFunctionStmt':
      return routineSetClauses(body.options);
    case 'AlterFunctionStmt':
      return routineSetClauses(body.actions);
    default:
      return [];
  }
}

/** `SET x = ...` / `RESET x` clauses of CREATE/ALTER FUNCTION/PROCEDURE. */
function routineSetClauses(options: unknown): SettingChange[] {
  const out: SettingChange[] = [];
  for (const item of asList(options)) {
    const w = unwrap(item);
    if (w?.[0] !== 'DefElem' || w[1].defname !== 'set') continue;
    const set = unwrap(w[1].arg);
    if (set?.[0] === 'VariableSetStmt') out.push(...variableSet(set[1], 'function_set'));
  }
  return out;
}

/**
 * One VariableSetStmt. At session level (`via` 'set'), RESET and SET ... TO DEFAULT are recorded as
 * 'reset' (back to the startup value); elsewhere (ALTER ROLE, function SET) they keep the given `via`
 * and have no value.
 */
function variableSet(body: Body | undefined, via: SettingVia): SettingChange[] {
  if (!body) return [];
  const name = typeof body.name === 'string' ? body.name.toLowerCase() : undefined;
  const resetVia: SettingVia = via === 'set' ? 'reset' : via;
  switch (body.kind) {
    case 'VAR_SET_VALUE': {
      const values = asList(body.args).map(constantText);
      const change: SettingChange = { name, via };
      if (values.every((v): v is string => v !== undefined)) change.value = values.join(', ');
      return [change];
    }
    case 'VAR_SET_DEFAULT':
    case 'VAR_RESET':
      return [{ name, via: resetVia }];
    case 'VAR_RESET_ALL':
      return [{ name: 'all', via: resetVia }];
    case 'VAR_SET_CURRENT': // SET x FROM CURRENT (routines): the value is whatever the session has then
      return [{ name, via }];
    case 'VAR_SET_MULTI':
      return multi(body, via);
    default:
      return [{ name, via }];
  }
}

/** SET TRANSACTION ..., SET SESSION CHARACTERISTICS AS TRANSACTION ..., SET TRANSACTION SNAPSHOT. */
function multi(body: Body, via: SettingVia): SettingChange[] {
  const form = typeof body.name === 'string' ? body.name.toUpperCase() : '';
  if (form === 'TRANSACTION SNAPSHOT') {
    const change: SettingChange = { name: 'transaction_snapshot', via };
    const value = constantText(asList(body.args)[0]);
    if (value !== undefined) change.value = value;
    return [change];
  }
  const prefix = form === 'SESSION CHARACTERISTICS' ? 'default_' : '';
  const out: SettingChange[] = [];
  for (const item of asList(body.args)) {
    const w = unwrap(item);
    if (w?.[0] !== 'DefElem' || typeof w[1].defname !== 'string') continue;
    const change: SettingChange = { name: `${prefix}${w[1].defname}`, via };
    const value = constantText(w[1].arg);
    if (value !== undefined) change.value = value;
    out.push(change);
  }
  return out.length > 0 ? out : [{ name: undefined, via }];
}

/**
 * `set_config(setting_name, new_value, is_local)`, positional or named arguments. The name is
 * known only when it is a literal (possibly cast), the value likewise.
 */
export function setConfigChange(args: unknown): SettingChange {
  const list = asList(args);
  let nameArg: unknown = list[0];
  let valueArg: unknown = list[1];
  for (const [i, item] of list.entries()) {
    const w = unwrap(item);
    if (w?.[0] !== 'NamedArgExpr') continue;
    if (w[1].name === 'setting_name') nameArg = w[1].arg;
    else if (w[1].name === 'new_value') valueArg = w[1].arg;
    else if (i < 2) {
      // A named argument in the first positions that is not one of these: cannot tell which is which.
      return { name: undefined, via: 'set_config' };
    }
  }
  const name = constantText(nameArg);
  const change: SettingChange = { name: name?.trim().toLowerCase(), via: 'set_config' };
  const value = constantText(valueArg);
  if (value !== undefined) change.value = value;
  return change;
}

/** The text of a constant (`'x'`, `1`, `1.5`, `true`, `'x'::text`); undefined for anything else. */
export function constantText(node: unknown): string | undefined {
  const w = unwrap(node);
  if (!w) return undefined;
  if (w[0] === 'TypeCast') return constantText(w[1].arg);
  if (w[0] !== 'A_Const' || w[1].isnull) return undefined;
  const c = w[1];
  const sval = asBody(c.sval);
  if (sval) return typeof sval.sval === 'string' ? sval.sval : '';
  const ival = asBody(c.ival);
  if (ival) return String(typeof ival.ival === 'number' ? ival.ival : 0);
  const fval = asBody(c.fval);
  if (fval) return typeof fval.fval === 'string' ? fval.fval : '0';
  const boolval = asBody(c.boolval);
  if (boolval) return boolval.boolval ? 'true' : 'false';
  const bsval = asBody(c.bsval);
  if (bsval) return typeof bsval.bsval === 'string' ? bsval.bsval : '';
  return undefined;
}

/**
 * Names of functions a definition makes Postgres call later without naming them in a query:
 * operator and aggregate support functions, type I/O, casts, transforms, triggers, event
 * triggers, operator classes, conversions, language handlers, foreign-data wrapper handlers.
 */
export function definedFunctionNames(type: string, body: Body): string[][] {
  switch (type) {
    case 'DefineStmt':
      return definitionFunctions(body.definition);
    case 'CreateRangeStmt':
      return definitionFunctions(body.params);
    case 'CreateCastStmt':
      return objectNames([body.func]);
    case 'CreateTransformStmt':
      return objectNames([body.fromsql, body.tosql]);
    case 'CreateTrigStmt':
    case 'CreateEventTrigStmt':
      return [stringList(body.funcname)];
    case 'CreateConversionStmt':
      return [stringList(body.func_name)];
    case 'CreatePLangStmt':
      return [stringList(body.plhandler), stringList(body.plinline), stringList(body.plvalidator)].filter(
        (n) => n.length > 0,
      );
    case 'CreateFdwStmt':
    case 'AlterFdwStmt':
      return asList(body.func_options).flatMap((o) => {
        const w = unwrap(o);
        return w?.[0] === 'DefElem' ? [stringList(w[1].arg)] : [];
      });
    case 'CreateOpClassStmt':
    case 'AlterOpFamilyStmt':
      return asList(body.items).flatMap((item) => {
        const w = unwrap(item);
        return w?.[0] === 'CreateOpClassItem' && w[1].itemtype === 2 ? objectNames([w[1].name]) : [];
      });
    case 'AlterOperatorStmt':
    case 'AlterTypeStmt':
      return definitionFunctions(body.options);
    default:
      return [];
  }
}

/** Options of CREATE AGGREGATE/OPERATOR/TYPE whose value names a function. */
const FUNCTION_OPTIONS = new Set([
  'function',
  'procedure',
  'restrict',
  'join',
  'sfunc',
  'sfunc1',
  'finalfunc',
  'combinefunc',
  'serialfunc',
  'deserialfunc',
  'msfunc',
  'minvfunc',
  'mfinalfunc',
  'input',
  'output',
  'receive',
  'send',
  'typmod_in',
  'typmod_out',
  'analyze',
  'subscript',
  'canonical',
  'subtype_diff',
  'init',
  'lexize',
  'start',
  'gettoken',
  'end',
  'headline',
  'lextypes',
]);

function definitionFunctions(definition: unknown): string[][] {
  const out: string[][] = [];
  for (const item of asList(definition)) {
    const w = unwrap(item);
    if (w?.[0] !== 'DefElem' || typeof w[1].defname !== 'string') continue;
    if (!FUNCTION_OPTIONS.has(w[1].defname.toLowerCase())) continue;
    const arg = unwrap(w[1].arg);
    if (arg?.[0] === 'TypeName') out.push(stringList(arg[1].names));
    else if (arg?.[0] === 'List') out.push(stringList(arg[1].items));
    else if (arg?.[0] === 'String') out.push(stringList([w[1].arg]));
  }
  return out.filter((n) => n.length > 0);
}

/** ObjectWithArgs (`s.f(text)`) names, bare or wrapped. */
function objectNames(nodes: unknown[]): string[][] {
  const out: string[][] = [];
  for (const node of nodes) {
    const body = unwrap(node)?.[1] ?? asBody(node);
    const names = stringList(body?.objname);
    if (names.length > 0) out.push(names);
  }
  return out;
}

/** How a change is made, in the words of a refusal (`SET`, `set_config()`, `ALTER ROLE ... SET/RESET`, ...). */
export function describeChange(change: SettingChange): string {
  switch (change.via) {
    case 'set':
      return 'SET';
    case 'reset':
      return 'RESET';
    case 'set_config':
      return change.name === undefined
        ? 'set_config() with a setting name that is not a literal (or an UPDATE of pg_settings)'
        : 'set_config()';
    case 'function_set':
      return "a function's SET/RESET clause";
    case 'alter_role':
      return 'ALTER ROLE ... SET/RESET';
    case 'alter_database':
      return 'ALTER DATABASE ... SET/RESET';
    case 'alter_system':
      return 'ALTER SYSTEM SET/RESET';
  }
}
