import { canonicalJson, jsonNumber } from './chain.js';
import type {
  ErrorPayload,
  EventPayload,
  ExecutePayload,
  QueryPayload,
  RecordedCell,
  RecordedDecision,
  ResultPayload,
} from './events.js';

// Hand-written canonical encoders for the kinds recorded once or twice per
// statement. Each produces exactly canonicalJson(payload) — keys in sorted order,
// absent optionals left out — without the generic walk's key sorting, which was
// most of the recording's cost per statement. encode.test.ts holds them to that.

const str = JSON.stringify;

/**
 * A string as JSON, remembering the last one: a session executes the same statement text, under
 * the same statement name, with the same command tag, over and over.
 */
class LastStringJson {
  private last: string | undefined;
  private json = '';

  of(value: string): string {
    if (value !== this.last) {
      this.last = value;
      this.json = str(value);
    }
    return this.json;
  }
}

const textJson = new LastStringJson();
const statementJson = new LastStringJson();
const tagJson = new LastStringJson();

function cellJson(cell: RecordedCell): string {
  if (cell === null) return 'null';
  if (typeof cell === 'string') return str(cell);
  return '{"b64":' + str(cell.b64) + '}';
}

function cellsJson(cells: readonly RecordedCell[]): string {
  let out = '[';
  for (let i = 0; i < cells.length; i++) out += (i ? ',' : '') + cellJson(cells[i]!);
  return out + ']';
}

const ALLOW_JSON = '{"action":"allow"}';

function decisionJson(d: RecordedDecision): string {
  return d.action === 'allow' ? ALLOW_JSON : canonicalJson(d);
}

function encodeQuery(p: QueryPayload): string {
  return '{"decision":' + decisionJson(p.decision) + ',"text":' + str(p.text) + '}';
}

function encodeExecute(p: ExecutePayload): string {
  return (
    '{"decision":' +
    decisionJson(p.decision) +
    ',"params":' +
    cellsJson(p.params) +
    ',"portal":' +
    str(p.portal) +
    ',"statement":' +
    statementJson.of(p.statement) +
    ',"text":' +
    textJson.of(p.text) +
    (p.truncated !== undefined ? ',"truncated":' + String(p.truncated) : '') +
    '}'
  );
}

/**
 * Column lists by identity: a session's results repeat the same few shapes, and the recording
 * hands the same array for each repeat of a RowDescription, so each shape is encoded once.
 */
const columnsJsonCache = new WeakMap<readonly { name: string; typeOid: number }[], string>();

function columnsJson(columns: readonly { name: string; typeOid: number }[]): string {
  let out = columnsJsonCache.get(columns);
  if (out !== undefined) return out;
  out = '[';
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    out += (i ? ',' : '') + '{"name":' + str(c.name) + ',"typeOid":' + jsonNumber(c.typeOid) + '}';
  }
  out += ']';
  columnsJsonCache.set(columns, out);
  return out;
}

function encodeResult(p: ResultPayload): string {
  let out = '{"bytes":' + jsonNumber(p.bytes);
  if (p.columns !== undefined) out += ',"columns":' + columnsJson(p.columns);
  if (p.copy !== undefined) out += ',"copy":' + canonicalJson(p.copy);
  out +=
    ',"ms":' +
    jsonNumber(p.ms) +
    ',"ref":' +
    (p.ref === null ? 'null' : jsonNumber(p.ref)) +
    ',"rowCount":' +
    jsonNumber(p.rowCount);
  if (p.rows !== undefined) {
    out += ',"rows":[';
    for (let i = 0; i < p.rows.length; i++) out += (i ? ',' : '') + cellsJson(p.rows[i]!);
    out += ']';
  }
  out += ',"tag":' + tagJson.of(p.tag);
  if (p.truncated !== undefined) out += ',"truncated":' + String(p.truncated);
  return out + '}';
}

function encodeError(p: ErrorPayload): string {
  return canonicalJson(p);
}

const ENCODERS: Record<string, ((payload: never) => string) | undefined> = {
  query: encodeQuery,
  execute: encodeExecute,
  result: encodeResult,
  error: encodeError,
};

/** canonicalJson(payload), fast for the kinds a statement produces. */
export function encodePayload(kind: string, payload: EventPayload): string {
  const encoder = ENCODERS[kind];
  return encoder ? (encoder as (p: EventPayload) => string)(payload) : canonicalJson(payload);
}
