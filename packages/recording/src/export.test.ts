import { describe, expect, it } from 'vitest';
import { RECORDING_FORMAT } from './events.js';
import {
  ExportParseError,
  exportSessionId,
  formatExport,
  formatExportEvent,
  formatExportHeader,
  parseExport,
} from './export.js';
import { parsePublicKey } from './signing.js';
import { RecordingBuilder, samplePostgresRecording } from './test-helpers.js';
import { verifyRecording } from './verify.js';

function exportOf(r = samplePostgresRecording()) {
  const text = formatExport(
    { session: { id: r.sessionId, status: 'closed' }, seal: r.seal, publicKey: r.signer.publicKey },
    r.events,
  );
  return { r, text };
}

function expectParseError(text: string, line: number, problem: RegExp) {
  try {
    parseExport(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ExportParseError);
    expect((err as ExportParseError).line).toBe(line);
    expect((err as ExportParseError).message).toMatch(problem);
    return;
  }
  throw new Error('expected parseExport to throw');
}

describe('export', () => {
  it('writes a header line, then one event per line', () => {
    const { r, text } = exportOf();
    const lines = text.split('\n');
    expect(lines).toHaveLength(r.events.length + 2); // header + events + the final newline's empty tail
    expect(lines.at(-1)).toBe('');
    const header = JSON.parse(lines[0]!);
    expect(header).toEqual({
      format: RECORDING_FORMAT,
      session: { id: r.sessionId, status: 'closed' },
      seal: r.seal,
      publicKey: r.signer.publicKeyPem,
    });
    expect(JSON.parse(lines[1]!)).toEqual(r.events[0]);
  });

  it('round-trips exactly, so the hashes and seal still verify', () => {
    const { r, text } = exportOf();
    const parsed = parseExport(text);
    expect(parsed.events).toEqual(r.events);
    expect(parsed.header.seal).toEqual(r.seal);
    expect(exportSessionId(parsed)).toBe(r.sessionId);
    const report = verifyRecording({
      sessionId: r.sessionId,
      events: parsed.events,
      seal: parsed.header.seal,
      publicKey: parsePublicKey(parsed.header.publicKey!),
    });
    expect(report).toMatchObject({ ok: true, chain: 'intact', seal: 'valid' });
  });

  it('round-trips awkward text: newlines, quotes, emoji, lone surrogates, NUL', () => {
    const b = new RecordingBuilder();
    const ref = b.add('query', {
      text: "SELECT 'a\nb', '\"', '🐘', '\ud800', '\u0000'",
      decision: { action: 'allow' },
    });
    b.add('result', {
      ref,
      tag: 'SELECT 1',
      columns: [{ name: '?column?', typeOid: 25 }],
      rows: [['a\nb', '"', '🐘', '\ud800', { b64: 'AA==' }]],
      rowCount: 1,
      bytes: 30,
      ms: 0.1,
    });
    const r = b.sealed();
    const parsed = parseExport(exportOf(r).text);
    expect(parsed.events).toEqual(r.events);
    expect(verifyRecording({ ...r, events: parsed.events, publicKey: r.signer.publicKey }).ok).toBe(true);
  });

  it('accepts CRLF line ends and blank lines', () => {
    const { r, text } = exportOf();
    const parsed = parseExport('\r\n' + text.replaceAll('\n', '\r\n') + '\r\n\r\n');
    expect(parsed.events).toEqual(r.events);
  });

  it('names the line of invalid JSON', () => {
    const { text } = exportOf();
    const lines = text.split('\n');
    lines[3] = lines[3]!.slice(0, -5);
    expectParseError(lines.join('\n'), 4, /^line 4: not valid JSON/);
  });

  it('names the line and field of a malformed event', () => {
    const { r } = exportOf();
    const bad = { ...r.events[1]!, seq: '2' };
    const text = formatExportHeader({ session: {}, seal: null, publicKey: null }) + formatExportEvent(r.events[0]!);
    expectParseError(text + JSON.stringify(bad) + '\n', 3, /"seq" must be a non-negative integer/);
    const noPayload = { ...r.events[1]!, payload: null };
    expectParseError(text + JSON.stringify(noPayload), 3, /"payload" must be an object/);
  });

  it('rejects a missing or foreign header', () => {
    expectParseError('', 1, /empty export/);
    const { r } = exportOf();
    expectParseError(formatExportEvent(r.events[0]!), 1, /expected the header line, found an event/);
    expectParseError(
      '{"format":"warden-recording/v9","session":{},"seal":null,"publicKey":null}',
      1,
      /unsupported format/,
    );
    expectParseError('[1,2]', 1, /the header must be a JSON object/);
    const header = JSON.parse(formatExportHeader({ session: {}, seal: r.seal, publicKey: null }));
    header.seal.lastSeq = -1;
    expectParseError(JSON.stringify(header), 1, /"lastSeq" must be a non-negative integer/);
  });

  it('takes the session id from the header, then the seal, then the events', () => {
    const { r } = exportOf();
    const header = { format: RECORDING_FORMAT, session: {}, seal: null, publicKey: null } as const;
    expect(exportSessionId({ header, events: r.events })).toBe(r.sessionId);
    expect(exportSessionId({ header: { ...header, session: { id: 'x' } }, events: r.events })).toBe('x');
    expect(exportSessionId({ header, events: [] })).toBeUndefined();
  });
});
