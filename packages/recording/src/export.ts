import type { KeyObject } from 'node:crypto';
import { RECORDING_FORMAT, type RecordedEvent, type RecordingSeal } from './events.js';

/** Media type of an export: JSON Lines. */
export const EXPORT_CONTENT_TYPE = 'application/x-ndjson';

/**
 * Line 1 of an export. `session` is whatever summary the exporter chose to include
 * (it is not covered by the hash chain); it should carry the session's `id`, which
 * offline verification checks every event against.
 */
export interface ExportHeader {
  format: typeof RECORDING_FORMAT;
  session: ExportSessionSummary;
  seal: RecordingSeal | null;
  /** SPKI PEM of the key the exporter says sealed the recording. */
  publicKey: string | null;
}

export type ExportSessionSummary = { id?: string } & Record<string, unknown>;

export interface ParsedExport {
  header: ExportHeader;
  events: RecordedEvent[];
}

/** Malformed export input; `line` is 1-based. */
export class ExportParseError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = 'ExportParseError';
  }
}

/** The header line, newline included. */
export function formatExportHeader(input: {
  session: ExportSessionSummary;
  seal: RecordingSeal | null;
  publicKey: KeyObject | string | null;
}): string {
  const publicKey =
    input.publicKey === null || typeof input.publicKey === 'string'
      ? input.publicKey
      : input.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const header: ExportHeader = { format: RECORDING_FORMAT, session: input.session, seal: input.seal, publicKey };
  return JSON.stringify(header) + '\n';
}

/** One event line, newline included; fields in a fixed order so exports read and diff alike. */
export function formatExportEvent(e: RecordedEvent): string {
  return (
    JSON.stringify({
      sessionId: e.sessionId,
      seq: e.seq,
      t: e.t,
      direction: e.direction,
      kind: e.kind,
      payload: e.payload,
      prevHash: e.prevHash,
      hash: e.hash,
    }) + '\n'
  );
}

/** A whole export in memory; large sessions are better streamed line by line with the two functions above. */
export function formatExport(
  header: Parameters<typeof formatExportHeader>[0],
  events: Iterable<RecordedEvent>,
): string {
  let out = formatExportHeader(header);
  for (const e of events) out += formatExportEvent(e);
  return out;
}

/**
 * Parses an export, checking the shape of every line (not the hashes: that is
 * verifyRecording's job, so a tampered file still parses and can be pinpointed).
 * Blank lines are ignored; CRLF line ends are accepted.
 */
export function parseExport(text: string): ParsedExport {
  const lines = text.split('\n');
  let header: ExportHeader | undefined;
  const events: RecordedEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const n = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new ExportParseError(n, `not valid JSON (${(err as Error).message})`);
    }
    if (header === undefined) header = checkHeader(n, value);
    else events.push(checkEvent(n, value));
  }
  if (!header) throw new ExportParseError(1, 'empty export: expected a header line');
  return { header, events };
}

/** The session an export claims to record: the header's session id, else the seal's, else the first event's. */
export function exportSessionId({ header, events }: ParsedExport): string | undefined {
  if (typeof header.session.id === 'string') return header.session.id;
  return header.seal?.sessionId ?? events[0]?.sessionId;
}

function checkHeader(n: number, value: unknown): ExportHeader {
  const h = object(n, value, 'the header');
  if (h.format !== RECORDING_FORMAT) {
    if (typeof h.format === 'string') {
      throw new ExportParseError(
        n,
        `unsupported format ${JSON.stringify(h.format)} (this reader knows ${RECORDING_FORMAT})`,
      );
    }
    if ('seq' in h && 'hash' in h) throw new ExportParseError(n, 'expected the header line, found an event');
    throw new ExportParseError(n, `the header's "format" must be ${JSON.stringify(RECORDING_FORMAT)}`);
  }
  const session = object(n, h.session, 'the header\'s "session"');
  if (session.id !== undefined && typeof session.id !== 'string') {
    throw new ExportParseError(n, 'the header\'s "session.id" must be a string');
  }
  if (h.publicKey !== null && typeof h.publicKey !== 'string') {
    throw new ExportParseError(n, 'the header\'s "publicKey" must be a PEM string or null');
  }
  return {
    format: RECORDING_FORMAT,
    session,
    seal: h.seal === null ? null : checkSeal(n, h.seal),
    publicKey: h.publicKey,
  };
}

function checkSeal(n: number, value: unknown): RecordingSeal {
  const s = object(n, value, 'the header\'s "seal"');
  for (const key of ['sessionId', 'finalHash', 'signature', 'signingKeyId'] as const) {
    if (typeof s[key] !== 'string') throw new ExportParseError(n, `the seal's "${key}" must be a string`);
  }
  if (!isSeq(s.lastSeq)) throw new ExportParseError(n, 'the seal\'s "lastSeq" must be a non-negative integer');
  return s as unknown as RecordingSeal;
}

function checkEvent(n: number, value: unknown): RecordedEvent {
  const e = object(n, value, 'an event');
  for (const key of ['sessionId', 't', 'direction', 'kind', 'prevHash', 'hash'] as const) {
    if (typeof e[key] !== 'string') throw new ExportParseError(n, `the event's "${key}" must be a string`);
  }
  if (!isSeq(e.seq)) throw new ExportParseError(n, 'the event\'s "seq" must be a non-negative integer');
  if (e.payload === null || typeof e.payload !== 'object' || Array.isArray(e.payload)) {
    throw new ExportParseError(n, `the event's "payload" must be an object (seq ${e.seq})`);
  }
  return e as unknown as RecordedEvent;
}

function object(n: number, value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ExportParseError(n, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
