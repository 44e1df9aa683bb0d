import { describe, expect, it } from 'vitest';
import { canonicalJson, HashChain } from './chain.js';
import type { RecordedEvent, SessionEndPayload } from './events.js';
import { describeRecoveredEnd, recoveredEndOf, recoveredEndPayload } from './interrupted.js';
import { RecordingBuilder, samplePostgresRecording, testSigner } from './test-helpers.js';
import { renderTranscript } from './transcript.js';
import { verifyRecording } from './verify.js';

/**
 * A session whose gateway went away after storing `stored` events: a recovering gateway continues
 * the stored chain with a recovered session.end and seals it, as apps/gateway's interrupted-seal does.
 */
function interruptedRecording(stored = 4, by = 'gw-b') {
  const signer = testSigner();
  const b = new RecordingBuilder(undefined, signer);
  b.add('session.start', { protocol: 'postgres' });
  for (let i = 1; i < stored; i++) b.add('query', { text: `SELECT ${i}`, decision: { action: 'allow' } });
  const events = [...b.events];
  const last = events.at(-1)!;
  // The recovering gateway knows only what was stored: the last event's seq and hash.
  const chain = new HashChain(b.sessionId, { seq: last.seq, hash: last.hash });
  const end = chain.append({
    t: '2025-03-01T10:00:00.000Z',
    direction: 'gateway',
    kind: 'session.end',
    payload: recoveredEndPayload('the gateway holding it restarted', {
      gatewayId: 'gw-a',
      by,
      storedSeq: last.seq,
    }),
  });
  events.push(end);
  return { sessionId: b.sessionId, signer, events, seal: signer.seal(b.sessionId, end.seq, end.hash) };
}

describe('HashChain resumed from a stored event', () => {
  it('links and numbers the next event exactly as the original chain would have', () => {
    const b = new RecordingBuilder();
    b.add('session.start', { protocol: 'postgres' });
    b.add('query', { text: 'SELECT 1', decision: { action: 'allow' } });
    const last = b.events.at(-1)!;
    const resumed = new HashChain(b.sessionId, { seq: last.seq, hash: last.hash });
    const next = {
      t: '2025-03-01T09:00:01.000Z',
      direction: 'gateway' as const,
      kind: 'notice',
      payload: { code: '0' },
    };
    const fromOriginal = b.chain.append(next);
    const fromResumed = resumed.append(next);
    expect(fromResumed).toEqual(fromOriginal);
    expect(fromResumed.seq).toBe(3);
    expect(fromResumed.prevHash).toBe(last.hash);
  });
});

describe('verifying a recording sealed as interrupted', () => {
  it('passes, and says it was sealed as interrupted, by whom, over how many stored events', () => {
    const r = interruptedRecording(4);
    const report = verifyRecording({ ...r, publicKey: r.signer.publicKey, ended: true });
    expect(report).toMatchObject({ ok: true, chain: 'intact', seal: 'valid', sealedAs: 'interrupted', eventCount: 5 });
    expect(report.summary).toContain('sealed as interrupted');
    expect(report.summary).toContain('gateway gw-a went away without ending the session; gateway gw-b ended it');
    expect(report.summary).toContain('the 4 events stored until then');
  });

  it('says the gateway itself ended it when it came back under the same id', () => {
    const r = interruptedRecording(2, 'gw-a');
    const report = verifyRecording({ ...r, publicKey: r.signer.publicKey });
    expect(report.sealedAs).toBe('interrupted');
    expect(report.summary).toContain('ended it when it came back');
  });

  it('reports a seal made at the session’s own end as sealed at its end, as before', () => {
    const r = samplePostgresRecording();
    const report = verifyRecording({ ...r, publicKey: r.signer.publicKey });
    expect(report).toMatchObject({ ok: true, seal: 'valid', sealedAs: 'ended' });
    expect(report.summary).not.toContain('interrupted');
  });

  it('detects the interrupted marker edited after sealing (hash mismatch), and no longer calls it sealed', () => {
    const r = interruptedRecording(3);
    const events = structuredClone(r.events);
    (events.at(-1)!.payload as SessionEndPayload).recovered!.storedSeq = 99;
    const report = verifyRecording({ ...r, events, publicKey: r.signer.publicKey });
    expect(report.ok).toBe(false);
    expect(report.brokenAt).toMatchObject({ seq: 4, reason: 'hash-mismatch' });
    expect(report.sealedAs).toBeUndefined();
    expect(report.summary).not.toContain('99');
  });

  it('detects the interrupted marker removed with its seal kept (events missing at the end)', () => {
    const r = interruptedRecording(3);
    const report = verifyRecording({ ...r, events: r.events.slice(0, -1), publicKey: r.signer.publicKey });
    expect(report.ok).toBe(false);
    expect(report.seal).toBe('mismatch');
    expect(report.sealedAs).toBeUndefined();
    expect(report.brokenAt).toMatchObject({ reason: 'missing-events' });
  });

  it('does not take a marker appended after a seal for the seal’s own (the seal no longer matches)', () => {
    const r = samplePostgresRecording();
    const last = r.events.at(-1)!;
    const forged = new HashChain(r.sessionId, { seq: last.seq, hash: last.hash }).append({
      t: '2025-03-01T10:00:00.000Z',
      direction: 'gateway',
      kind: 'session.end',
      payload: recoveredEndPayload('forged', { gatewayId: 'gw-a', by: 'gw-x', storedSeq: last.seq }),
    });
    const report = verifyRecording({ ...r, events: [...r.events, forged], publicKey: r.signer.publicKey });
    expect(report.ok).toBe(false);
    expect(report.seal).toBe('mismatch');
    expect(report.sealedAs).toBeUndefined();
  });

  it('does not accept a seal signed by another key for an interrupted recording', () => {
    const r = interruptedRecording(3);
    const report = verifyRecording({ ...r, publicKey: testSigner().publicKey });
    expect(report).toMatchObject({ ok: false, seal: 'invalid-signature' });
    expect(report.sealedAs).toBeUndefined();
  });
});

describe('recoveredEndOf', () => {
  const end = (payload: unknown): Pick<RecordedEvent, 'kind' | 'payload'> => ({
    kind: 'session.end',
    payload: payload as SessionEndPayload,
  });

  it('reads the marker of a recovered session.end', () => {
    const payload = recoveredEndPayload('r', { gatewayId: 'a', by: 'b', storedSeq: 7 });
    // Through JSON, as stored events are read back.
    expect(recoveredEndOf(end(JSON.parse(canonicalJson(payload))))).toEqual({ gatewayId: 'a', by: 'b', storedSeq: 7 });
    expect(payload.status).toBe('interrupted');
    expect(payload.counters).toBeUndefined();
  });

  it('ignores ordinary ends, other kinds and malformed markers', () => {
    expect(recoveredEndOf(end({ status: 'closed', reason: 'x', counters: {} }))).toBeUndefined();
    expect(recoveredEndOf({ kind: 'notice', payload: { recovered: { gatewayId: 'a', by: 'b', storedSeq: 1 } } })).toBe(
      undefined,
    );
    expect(recoveredEndOf(end({ recovered: { gatewayId: 'a', by: 'b', storedSeq: -1 } }))).toBeUndefined();
    expect(recoveredEndOf(end({ recovered: { gatewayId: 1, by: 'b', storedSeq: 1 } }))).toBeUndefined();
    expect(recoveredEndOf(end({ recovered: 'yes' }))).toBeUndefined();
    expect(recoveredEndOf(undefined)).toBeUndefined();
  });

  it('describes a recovery with nothing stored', () => {
    expect(describeRecoveredEnd({ gatewayId: 'a', by: 'b', storedSeq: 0 })).toContain('no event had been stored');
  });
});

describe('transcript of a recording sealed as interrupted', () => {
  it('shows the end as interrupted and how it was sealed', () => {
    const r = interruptedRecording(3);
    const text = renderTranscript(r.events);
    expect(text).toContain(': interrupted (the gateway holding it restarted)');
    expect(text).toContain('-- sealed as interrupted: gateway gw-a went away');
  });
});
