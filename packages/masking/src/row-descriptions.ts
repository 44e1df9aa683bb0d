import {
  BackendCode,
  decodeRowDescription,
  formatCode,
  type FieldDescription,
  type TypedFrontendMessage,
} from '@warden/pg-wire';

/**
 * A RowDescription as it applies to DataRows. `format` -1 marks a column whose format is not
 * known yet (a RowDescription answering Describe of a *statement* always says text; the Bind
 * decides).
 */
export type Description = readonly FieldDescription[];

type Op =
  | { k: 'parse'; name: string }
  | { k: 'bind'; portal: string; statement: string; formats: readonly number[] }
  | { k: 'describe'; target: 'S' | 'P'; name: string }
  | { k: 'execute'; portal: string }
  | { k: 'close'; target: 'S' | 'P'; name: string }
  | { k: 'sync' }
  | { k: 'query' }
  | { k: 'function' };

function withUnknownFormats(fields: Description): Description {
  return fields.map((f) => ({ ...f, format: -1 }));
}

/** Bind's result-format codes: none = all text, one = applies to all, else one per column. */
function withBindFormats(fields: Description | undefined, formats: readonly number[]): Description | undefined {
  if (fields === undefined) return undefined;
  if (formats.length > 1 && formats.length !== fields.length) return undefined;
  return fields.map((f, i) => ({
    ...f,
    format: formatCode(formats, i),
  }));
}

/**
 * Knows which RowDescription applies to each DataRow.
 *
 * Untracked (backend stream only): the most recent RowDescription applies to the DataRows that
 * follow, until CommandComplete, EmptyQueryResponse, ErrorResponse or ReadyForQuery (not
 * PortalSuspended: a later Execute of the same portal continues it). A RowDescription right after
 * ParameterDescription answers Describe(statement): its formats are marked unknown.
 * Heuristic limits: a client that executes a prepared statement without describing it (pgjdbc
 * after its prepare threshold) sends rows with no RowDescription in front of them; those rows
 * get `undefined` (the masker's unknown-row policy applies), never another statement's columns.
 *
 * Tracked (the agent also feeds every frontend message it forwards, in order): follows the
 * protocol exactly. Statements remember their Describe(statement) answer, portals take it with
 * the Bind's result formats (or their own Describe(portal) answer), Execute uses its portal's.
 * Failed extended-protocol messages are discarded up to Sync, like the server does. If the two
 * streams ever disagree, tracking stops and every later row is unknown (fail closed).
 */
export class RowDescriptions {
  private current: Description | undefined;
  private afterParameterDescription = false;
  private readonly ops: Op[] = [];
  private head = 0;
  private readonly statements = new Map<string, Description | undefined>();
  private readonly portals = new Map<string, Description | undefined>();
  private desynchronized = false;
  /** Bumped whenever `current` may have changed. */
  version = 0;

  constructor(readonly tracked: boolean) {}

  /** 'off' (untracked mode), 'ok', or 'lost' after the streams disagreed (rows are unknown from then on). */
  get tracking(): 'off' | 'ok' | 'lost' {
    return !this.tracked ? 'off' : this.desynchronized ? 'lost' : 'ok';
  }

  /** The description for the next DataRow, or undefined if unknown. */
  get rows(): Description | undefined {
    return this.current;
  }

  /** Tracked mode: a frontend message forwarded to the target (before its response can arrive). */
  frontend(m: TypedFrontendMessage): void {
    if (!this.tracked || this.desynchronized) return;
    switch (m.kind) {
      case 'query':
        return this.push({ k: 'query' });
      case 'parse':
        return this.push({ k: 'parse', name: m.name });
      case 'bind':
        return this.push({ k: 'bind', portal: m.portal, statement: m.statement, formats: m.resultFormats });
      case 'describe':
        return this.push({ k: 'describe', target: m.target, name: m.name });
      case 'execute':
        return this.push({ k: 'execute', portal: m.portal });
      case 'close':
        return this.push({ k: 'close', target: m.target, name: m.name });
      case 'sync':
        return this.push({ k: 'sync' });
      case 'functionCall':
        return this.push({ k: 'function' });
      default:
        return; // Flush, CopyData/Done/Fail, Terminate, auth: no response of their own
    }
  }

  /** A backend frame (only its type byte is read, and the body of RowDescription). */
  backend(frame: Buffer): void {
    const code = frame[0]!;
    if (this.tracked) this.trackedBackend(code, frame);
    else this.untrackedBackend(code, frame);
  }

  private set(d: Description | undefined): void {
    if (d !== this.current) {
      this.current = d;
      this.version++;
    }
  }

  private untrackedBackend(code: number, frame: Buffer): void {
    switch (code) {
      case BackendCode.ParameterDescription:
        this.afterParameterDescription = true;
        return;
      case BackendCode.RowDescription: {
        const fields = decodeRowDescription(frame);
        this.set(this.afterParameterDescription ? withUnknownFormats(fields) : fields);
        this.afterParameterDescription = false;
        return;
      }
      case BackendCode.NoData:
        this.afterParameterDescription = false;
        return;
      case BackendCode.CommandComplete:
      case BackendCode.EmptyQueryResponse:
      case BackendCode.ErrorResponse:
      case BackendCode.ReadyForQuery:
        this.afterParameterDescription = false;
        this.set(undefined);
        return;
    }
  }

  private push(op: Op): void {
    this.ops.push(op);
  }

  private peek(): Op | undefined {
    return this.ops[this.head];
  }

  private shift(): void {
    this.ops[this.head++] = undefined as unknown as Op;
    if (this.head > 64 && this.head * 2 > this.ops.length) {
      this.ops.splice(0, this.head);
      this.head = 0;
    }
  }

  private desync(): void {
    this.desynchronized = true;
    this.ops.length = 0;
    this.head = 0;
    this.set(undefined);
  }

  private trackedBackend(code: number, frame: Buffer): void {
    if (this.desynchronized) return;
    const op = this.peek();
    switch (code) {
      case BackendCode.ParseComplete:
        if (op?.k !== 'parse') return this.desync();
        this.statements.set(op.name, undefined);
        return this.shift();
      case BackendCode.BindComplete:
        if (op?.k !== 'bind') return this.desync();
        this.portals.set(op.portal, withBindFormats(this.statements.get(op.statement), op.formats));
        return this.shift();
      case BackendCode.ParameterDescription:
        if (op?.k !== 'describe' || op.target !== 'S') return this.desync();
        return;
      case BackendCode.RowDescription:
      case BackendCode.NoData: {
        const fields = code === BackendCode.NoData ? [] : decodeRowDescription(frame);
        if (op?.k === 'query' || op?.k === 'function')
          return code === BackendCode.NoData ? this.desync() : this.set(fields);
        if (op?.k !== 'describe') return this.desync();
        if (op.target === 'S') this.statements.set(op.name, withUnknownFormats(fields));
        else this.portals.set(op.name, fields);
        return this.shift();
      }
      case BackendCode.DataRow:
        if (op?.k === 'execute') this.set(this.portals.get(op.portal));
        else if (op?.k !== 'query' && op?.k !== 'function') this.desync();
        return;
      case BackendCode.CommandComplete:
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        if (op?.k === 'execute') {
          this.set(undefined);
          return this.shift();
        }
        if (op?.k !== 'query' || code === BackendCode.PortalSuspended) return this.desync();
        return this.set(undefined);
      case BackendCode.CloseComplete:
        if (op?.k !== 'close') return this.desync();
        (op.target === 'S' ? this.statements : this.portals).delete(op.name);
        return this.shift();
      case BackendCode.ErrorResponse:
        this.set(undefined);
        // A simple query or function call ends with ReadyForQuery; a failed extended-protocol
        // message makes the server skip everything up to Sync.
        if (op === undefined || op.k === 'query' || op.k === 'function') return;
        while (this.peek() !== undefined && this.peek()!.k !== 'sync') this.shift();
        return;
      case BackendCode.ReadyForQuery: {
        this.set(undefined);
        for (let o = this.peek(); o !== undefined; o = this.peek()) {
          this.shift();
          if (o.k === 'sync' || o.k === 'query' || o.k === 'function') break;
        }
        // Outside a transaction block every portal is gone.
        if (frame[5] === 0x49) this.portals.clear();
        return;
      }
    }
  }
}
