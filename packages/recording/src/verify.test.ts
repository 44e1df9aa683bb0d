import { describe, expect, it } from 'vitest';
import { eventHash, HashChain } from './chain.js';
import type { RecordedEvent } from './events.js';
import { RecordingBuilder, samplePostgresRecording, testSigner, type TestRecording } from './test-helpers.js';
import { verifyRecording } from './verify.js';

/** A deep copy, so a test can tamper without touching the fixture. */
function copy(r: TestRecording): TestRecording {
  return { ...r, events: structuredClone(r.events), seal: structuredClone(r.seal) };
}

function verify(r: TestRecording, extra: Partial<Parameters<typeof verifyRecording>[0]> = {}) {
  return verifyRecording({
    sessionId: r.sessionId,
    events: r.events,
    seal: r.seal,
    publicKey: r.signer.publicKey,
    ...extra,
  });
}

describe('verifyRecording', () => {
  const original = samplePostgresRecording();

  it('passes an intact, sealed recording', () => {
    const report = verify(original);
    expect(report).toMatchObject({ ok: true, chain: 'intact', seal: 'valid', eventCount: original.events.length });
    expect(report.brokenAt).toBeUndefined();
    expect(report.summary).toMatch(/^OK: chain intact \(11 events\); seal valid/);
  });

  it('pinpoints an edited payload as a hash mismatch at that seq', () => {
    const r = copy(original);
    const e = r.events[2]!;
    (e.payload as { rows: unknown[][] }).rows[0]![1] = 'mallory';
    const report = verify(r);
    expect(report.ok).toBe(false);
    expect(report.chain).toBe('broken');
    expect(report.brokenAt).toMatchObject({ seq: 3, reason: 'hash-mismatch' });
    expect(report.summary).toContain('chain broken at seq 3 (hash-mismatch)');
  });

  it('pinpoints an edited time as a hash mismatch at that seq', () => {
    const r = copy(original);
    r.events[4]!.t = '2025-03-01T08:00:00.000Z';
    expect(verify(r).brokenAt).toMatchObject({ seq: 5, reason: 'hash-mismatch' });
  });

  it('reports a re-hashed edit at the next event, whose link no longer matches', () => {
    const r = copy(original);
    const e = r.events[3]!;
    (e.payload as { params: string[] }).params[0] = '43';
    e.hash = eventHash(e.prevHash, e);
    expect(verify(r).brokenAt).toMatchObject({ seq: 5, reason: 'prev-hash-mismatch' });
  });

  it('detects reordered events at the first one out of place', () => {
    const r = copy(original);
    [r.events[3], r.events[4]] = [r.events[4]!, r.events[3]!];
    const report = verify(r);
    expect(report.brokenAt).toMatchObject({ seq: 5, reason: 'seq-gap' });
    expect(report.brokenAt!.detail).toContain('expected seq 4, found seq 5');
  });

  it('detects reordered events even when their seqs were renumbered', () => {
    const r = copy(original);
    [r.events[3], r.events[4]] = [r.events[4]!, r.events[3]!];
    r.events[3]!.seq = 4;
    r.events[4]!.seq = 5;
    expect(verify(r).brokenAt).toMatchObject({ seq: 4, reason: 'prev-hash-mismatch' });
  });

  it('reports a deleted middle event as a seq gap at the next seq', () => {
    const r = copy(original);
    r.events.splice(5, 1);
    const report = verify(r);
    expect(report.brokenAt).toMatchObject({ seq: 7, reason: 'seq-gap' });
    expect(report.brokenAt!.detail).toContain('seq 6 is missing');
  });

  it('reports deleted last events through the seal', () => {
    const r = copy(original);
    r.events.splice(-2, 2);
    const report = verify(r);
    expect(report.ok).toBe(false);
    expect(report.seal).toBe('mismatch');
    expect(report.brokenAt).toMatchObject({ seq: 10, reason: 'missing-events' });
    expect(report.brokenAt!.detail).toContain('covers seq 1..11 but the recording ends at seq 9');
  });

  it('rejects a seal forged over a rewritten chain', () => {
    const forger = testSigner();
    const chain = new HashChain(original.sessionId);
    const events = original.events.map((e) =>
      chain.append({
        t: e.t,
        direction: e.direction,
        kind: e.kind,
        payload: e.kind === 'query' ? { ...e.payload, text: 'SELECT 1;' } : e.payload,
      }),
    );
    const seal = {
      ...forger.seal(original.sessionId, chain.lastSeq, chain.lastHash),
      signingKeyId: original.signer.keyId,
    };
    const report = verify({ ...original, events, seal });
    expect(report).toMatchObject({ ok: false, chain: 'intact', seal: 'invalid-signature' });
    expect(report.summary).toContain('seal signature invalid');
  });

  it('rejects a seal whose signature bytes were altered', () => {
    const r = copy(original);
    const sig = Buffer.from(r.seal!.signature, 'base64');
    sig[0]! ^= 1;
    r.seal!.signature = sig.toString('base64');
    expect(verify(r)).toMatchObject({ ok: false, seal: 'invalid-signature' });
  });

  it('rejects a genuine seal checked with the wrong public key, naming both keys', () => {
    const other = testSigner();
    const report = verify(original, { publicKey: other.publicKey });
    expect(report).toMatchObject({ ok: false, chain: 'intact', seal: 'invalid-signature' });
    expect(report.summary).toContain(`sealed by key ${original.signer.keyId}, checked with key ${other.keyId}`);
  });

  it('rejects an event spliced in from another session', () => {
    const other = samplePostgresRecording(undefined, original.signer);
    const r = copy(original);
    r.events[6] = other.events[6]!;
    const report = verify(r);
    expect(report.brokenAt).toMatchObject({ seq: 7, reason: 'wrong-session' });
    expect(report.brokenAt!.detail).toContain(other.sessionId);
  });

  it("rejects another session's whole recording and seal presented under this session", () => {
    const other = samplePostgresRecording(undefined, original.signer);
    const report = verify({ ...other, sessionId: original.sessionId });
    expect(report.brokenAt).toMatchObject({ seq: 1, reason: 'wrong-session' });
    expect(report.seal).toBe('mismatch');
  });

  it('treats a running session without a seal as intact but unsealed', () => {
    const b = new RecordingBuilder();
    b.add('query', { text: 'SELECT 1', decision: { action: 'allow' } });
    const report = verifyRecording({ sessionId: b.sessionId, events: b.events, seal: null });
    expect(report).toMatchObject({ ok: true, chain: 'intact', seal: 'unsealed' });
  });

  it('flags an ended session without a seal as missing its seal', () => {
    const report = verify(original, { seal: null });
    expect(report).toMatchObject({ ok: false, chain: 'intact', seal: 'missing' });
    expect(verify(original, { seal: null, ended: false }).seal).toBe('unsealed');
  });

  it('does not call a matching seal valid without a public key', () => {
    const report = verify(original, { publicKey: null });
    expect(report).toMatchObject({ ok: false, chain: 'intact', seal: 'no-public-key' });
  });

  it('flags an ended session with no events at all', () => {
    const report = verify(original, { events: [] });
    expect(report.brokenAt).toMatchObject({ seq: 1, reason: 'missing-events' });
    expect(report.seal).toBe('mismatch');
  });

  it('verifies 10k events in under 200 ms', () => {
    const b = new RecordingBuilder();
    for (let i = 0; i < 5000; i++) {
      const ref = b.add('query', { text: `SELECT * FROM t WHERE id = ${i}`, decision: { action: 'allow' } });
      b.add('result', {
        ref,
        tag: 'SELECT 1',
        columns: [{ name: 'id', typeOid: 23 }],
        rows: [[String(i)]],
        rowCount: 1,
        bytes: 20,
        ms: 0.2,
      });
    }
    const r = b.sealed();
    // Best of several runs: the first pays for JIT compilation, and parallel test files compete for the CPU.
    let best = Infinity;
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      const report = verify(r);
      best = Math.min(best, performance.now() - started);
      expect(report.ok).toBe(true);
      expect(report.eventCount).toBe(10_000);
    }
    expect(best).toBeLessThan(200);
  });
});

// Keeps the fixture honest: the helpers above must produce what the gateway would.
it('the sample recording is chained like the gateway chains it', () => {
  const r = samplePostgresRecording();
  const chain = new HashChain(r.sessionId);
  const rebuilt: RecordedEvent[] = r.events.map((e) =>
    chain.append({ t: e.t, direction: e.direction, kind: e.kind, payload: e.payload }),
  );
  expect(rebuilt).toEqual(r.events);
});
