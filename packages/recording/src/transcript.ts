import type {
  ErrorPayload,
  ExecutePayload,
  NoticePayload,
  ReviewDecidedPayload,
  ReviewRequestedPayload,
  NotificationPayload,
  PreparePayload,
  QueryPayload,
  RecordedCell,
  RecordedDecision,
  RecordedEvent,
  ResultPayload,
  SessionEndPayload,
  SessionStartPayload,
} from './events.js';
import { describeRecoveredEnd, recoveredEndOf } from './interrupted.js';
import { renderSshEvent } from './ssh-transcript.js';

export interface TranscriptOptions {
  /** The database-like name in the prompt (`app=>`); by default the session's connection name. */
  prompt?: string;
  /** Show each statement's duration as psql's \timing does (default true). */
  timing?: boolean;
}

/**
 * Renders events one at a time, as a psql session would have shown them. Stateful:
 * time offsets are relative to the first event, and a result that does not follow
 * its own statement (pipelined extended protocol) names the statement it answers.
 */
export class TranscriptRenderer {
  private start: number | undefined;
  private prompt: string | undefined;
  private lastStatement: number | undefined;
  private readonly statements = new Map<number, string>();
  /** Whether the output so far ends in a blank line (or is empty), so statements are set apart once. */
  private afterBlank = true;

  constructor(private readonly options: TranscriptOptions = {}) {
    this.prompt = options.prompt;
  }

  /** The lines for one event, each ending in a newline (or '' when the event shows nothing). */
  render(event: RecordedEvent): string {
    const out = this.renderEvent(event);
    if (out) this.afterBlank = out.endsWith('\n\n');
    return out;
  }

  private renderEvent(event: RecordedEvent): string {
    const time = Date.parse(event.t);
    if (this.start === undefined && Number.isFinite(time)) this.start = time;
    const p = event.payload as never;
    switch (event.kind) {
      case 'session.start':
        return this.sessionStart(event, p);
      case 'query':
        return this.statement(event, (p as QueryPayload).text, (p as QueryPayload).decision);
      case 'prepare':
        return this.prepare(event, p);
      case 'execute':
        return this.execute(event, p);
      case 'result':
        return this.result(p);
      case 'error':
        return this.error(p);
      case 'notice':
        return notice(p);
      case 'notification':
        return notification(p);
      case 'review.requested':
        return reviewRequested(p);
      case 'review.decided':
        return reviewDecided(p);
      case 'session.end':
        return this.sessionEnd(event, p);
      default:
        if (event.kind.startsWith('ssh.')) return renderSshEvent(event, this.offset(event), this.prompt ?? 'warden');
        return `[${event.kind}] ${JSON.stringify(event.payload)}\n`;
    }
  }

  private offset(event: RecordedEvent): string {
    const time = Date.parse(event.t);
    const seconds = this.start === undefined || !Number.isFinite(time) ? 0 : (time - this.start) / 1000;
    return `[+${seconds.toFixed(3)}s]`;
  }

  private sessionStart(event: RecordedEvent, p: SessionStartPayload): string {
    this.prompt ??= p.connection?.name;
    const identity = p.identity ? `${p.identity.name}${p.identity.kind ? ` (${p.identity.kind})` : ''}` : 'unknown';
    const client = [
      p.clientAddr ?? 'unknown address',
      p.clientUser ? `user ${p.clientUser}` : undefined,
      p.protocol === 'ssh' ? 'SSH' : p.clientTls ? 'TLS' : 'no TLS',
    ].filter(Boolean);
    return (
      `-- session ${event.sessionId} started ${event.t} (${p.protocol ?? 'unknown protocol'})\n` +
      `-- identity: ${identity}; connection: ${p.connection?.name ?? '?'}; agent: ${p.agent?.name ?? '?'}\n` +
      `-- client: ${client.join(', ')}\n\n`
    );
  }

  private sessionEnd(event: RecordedEvent, p: SessionEndPayload): string {
    const c = p.counters;
    const counters = c
      ? [
          `${plural(c.statements, 'statement')}`,
          `${c.blocked} blocked`,
          `${bytes(c.bytesIn)} in`,
          `${bytes(c.bytesOut)} out`,
          ...Object.entries(c.masked ?? {}).map(([rule, n]) => `${n} masked by ${rule}`),
        ].join(', ')
      : '';
    const recovered = recoveredEndOf(event);
    return (
      `\n-- session ended ${event.t} ${this.offset(event)}: ${p.status}${p.reason ? ` (${p.reason})` : ''}\n` +
      (counters ? `-- ${counters}\n` : '') +
      (recovered ? `-- sealed as interrupted: ${describeRecoveredEnd(recovered)}\n` : '')
    );
  }

  private statement(event: RecordedEvent, text: string, decision: RecordedDecision | undefined): string {
    this.lastStatement = event.seq;
    this.statements.set(event.seq, text);
    const lead = `${this.offset(event)} `;
    const prompt = this.prompt ?? 'warden';
    const lines = text.split(/\r?\n/);
    let out = `${this.afterBlank ? '' : '\n'}${lead}${prompt}=> ${lines[0]}\n`;
    const pad = ' '.repeat(lead.length);
    for (const line of lines.slice(1)) out += `${pad}${prompt}-> ${line}\n`;
    return out + describeDecision(decision);
  }

  private prepare(event: RecordedEvent, p: PreparePayload): string {
    const name = p.name ? `"${p.name}"` : '(unnamed)';
    return (
      `${this.afterBlank ? '' : '\n'}${this.offset(event)} -- prepare ${name}: ${oneLine(p.text)}\n` +
      describeDecision(p.decision)
    );
  }

  private execute(event: RecordedEvent, p: ExecutePayload): string {
    let out = this.statement(event, p.text, undefined);
    (p.params ?? []).forEach((v, i) => (out += `-- $${i + 1} = ${literal(v)}\n`));
    if (p.truncated) out += '-- (parameters truncated at 1 MiB)\n';
    return out + describeDecision(p.decision);
  }

  private answers(ref: number | null | undefined): string {
    if (ref === null || ref === undefined || ref === this.lastStatement) return '';
    const text = this.statements.get(ref);
    return `-- answer to #${ref}${text === undefined ? '' : `: ${oneLine(text).slice(0, 60)}`}\n`;
  }

  private result(p: ResultPayload): string {
    let out = this.answers(p.ref);
    const timing = this.options.timing !== false && typeof p.ms === 'number' ? `Time: ${p.ms.toFixed(3)} ms\n` : '';
    if (p.copy) {
      const data = p.copy.data ?? [];
      for (const line of data) out += line.endsWith('\n') ? line : line + '\n';
      if (p.copy.direction === 'in') out += '\\.\n';
      if (p.truncated) out += `[truncated: showing ${data.length} of ${p.rowCount} lines]\n`;
      return out + `${p.tag}\n` + timing;
    }
    if (p.columns) {
      const rows = p.rows ?? [];
      out += renderTable(
        p.columns.map((c) => ({ name: c.name, right: NUMERIC_TYPES.has(c.typeOid) })),
        rows.map((r) => r.map(cellText)),
      );
      if (p.truncated) out += `[truncated: showing ${rows.length} of ${p.rowCount} rows]\n`;
      return out + `(${plural(p.rowCount, 'row')})\n\n` + timing;
    }
    return out + (p.tag === '' ? '(empty query)' : p.tag) + '\n' + timing;
  }

  private error(p: ErrorPayload): string {
    let out = this.answers(p.ref) + `${p.severity ?? 'ERROR'}:  ${p.code}: ${p.message}\n`;
    if (p.detail) out += `DETAIL:  ${p.detail}\n`;
    if (p.hint) out += `HINT:  ${p.hint}\n`;
    return out;
  }
}

/** The whole session as text. */
export function renderTranscript(events: Iterable<RecordedEvent>, options?: TranscriptOptions): string {
  const renderer = new TranscriptRenderer(options);
  let out = '';
  for (const e of events) out += renderer.render(e);
  return out;
}

/** int2, int4, int8, oid, float4, float8, money, numeric: right-aligned like psql does. */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 790, 1700]);

interface Column {
  name: string;
  /** Right-aligned, as psql aligns numbers. */
  right: boolean;
}

/** psql's aligned format: centred headers, `-+-` rule, one space of padding, trailing spaces trimmed. */
function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(width(c.name), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c) => ` ${c} `)
      .join('|')
      .trimEnd() + '\n';
  let out = line(
    columns.map((c, i) => {
      const room = widths[i]! - width(c.name);
      const left = Math.floor(room / 2);
      return ' '.repeat(left) + c.name + ' '.repeat(room - left);
    }),
  );
  out += (widths.length ? widths.map((w) => '-'.repeat(w + 2)).join('+') : '--') + '\n';
  for (const row of rows) {
    out += line(
      columns.map((c, i) => {
        const text = row[i] ?? '';
        const fill = ' '.repeat(widths[i]! - width(text));
        return c.right ? fill + text : text + fill;
      }),
    );
  }
  return out;
}

function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function describeDecision(d: RecordedDecision | undefined): string {
  if (!d || d.action === 'allow') return '';
  if (d.action === 'block') return `-- BLOCKED by rule "${d.rule}": ${d.message}\n`;
  return `-- HELD FOR REVIEW by rule "${d.rule}"\n`;
}

function reviewRequested(p: ReviewRequestedPayload): string {
  const why = p.justification ? `; justification: ${p.justification}` : '';
  return `-- waiting for review ${p.reviewId} (rule "${p.rule}", ${p.approvals} approval(s) from ${p.approverGroups.join(', ')}${why})\n`;
}

function reviewDecided(p: ReviewDecidedPayload): string {
  const who = p.by ? ` by ${p.by.name}` : '';
  const comment = p.comment ? `: ${p.comment}` : '';
  return `-- review ${p.reviewId} ${p.status.toUpperCase()}${who}${comment}\n`;
}

function notice(p: NoticePayload): string {
  return `${p.severity ?? 'NOTICE'}:  ${p.message}\n`;
}

function notification(p: NotificationPayload): string {
  const payload = p.payload ? ` with payload "${p.payload}"` : '';
  return `Asynchronous notification "${p.channel}"${payload} received from server process with PID ${p.processId}.\n`;
}

/** A cell as psql shows it: NULL empty, bytea as \x hex, control characters escaped to keep rows on one line. */
function cellText(cell: RecordedCell | undefined): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'object') return '\\x' + Buffer.from(cell.b64, 'base64').toString('hex');
  return cell.replace(/[\n\r\t]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

function literal(cell: RecordedCell): string {
  if (cell === null) return 'NULL';
  if (typeof cell === 'object') return `'\\x${Buffer.from(cell.b64, 'base64').toString('hex')}'`;
  return `'${cell.replace(/'/g, "''")}'`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
