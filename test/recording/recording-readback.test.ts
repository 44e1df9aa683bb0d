import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { run, startDataPath, type DataPath } from '../support/data-path.js';
import { repoRoot } from '../support/processes.js';
import { sealedSession } from '../support/recordings.js';

// What an incident responder does with a real recording: find the session by a word it
// ran, verify it, see tampering pinpointed, and replay it with the CLI.
let dp: DataPath;
let sessionId: string;
const cli = (args: string[], token = dp.adminKey) =>
  run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'apps/cli/src/main.ts'), ...args], {
    env: { WARDEN_URL: dp.api.baseUrl, WARDEN_TOKEN: token },
  });

beforeAll(async () => {
  dp = await startDataPath();
  const since = new Date();
  const out = await dp.psql([
    '-c',
    "SELECT 'zanzibar' AS codeword",
    '-c',
    'SELECT g AS n FROM generate_series(1, 3) g',
  ]);
  expect(out.code, out.stderr).toBe(0);
  sessionId = (await sealedSession(dp.api.db.prisma, since)).id;
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

describe('a recorded psql session, read back', () => {
  it('is found by a word in its statements, and only by a matching word', async () => {
    const found = await dp.api.request('GET', '/api/sessions?q=zanzibar');
    expect(found.status).toBe(200);
    expect(found.body.items.map((s: { id: string }) => s.id)).toEqual([sessionId]);
    const none = await dp.api.request('GET', '/api/sessions?q=timbuktu');
    expect(none.body.items).toEqual([]);
  });

  it('verifies; a non-admin cannot read it (403)', async () => {
    const verified = await dp.api.request('GET', `/api/sessions/${sessionId}/verify`);
    expect(verified.body).toMatchObject({ ok: true, chain: 'intact', seal: 'valid' });
    const other = await createIdentity(dp.api, 'nosy', { role: 'user' });
    const denied = await dp.api.request('GET', `/api/sessions/${sessionId}`, { token: other.token });
    expect(denied.status).toBe(403);
    expect((await cli(['transcript', sessionId], other.token)).code).toBe(1);
  });

  it('replays with the CLI as the transcript the API renders', async () => {
    const transcript = await dp.api.request('GET', `/api/sessions/${sessionId}/transcript`);
    expect(transcript.status).toBe(200);
    expect(transcript.text).toContain('zanzibar');
    const replay = await cli(['replay', sessionId, '--no-wait']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toBe(transcript.text);

    // Offline: the export verifies with the deployment's published key.
    const dir = mkdtempSync(path.join(tmpdir(), 'warden-export-'));
    const exported = await cli(['export', sessionId, '-o', path.join(dir, 'session.jsonl')]);
    expect(exported.code, exported.stderr).toBe(0);
    const keys = await dp.api.request('GET', '/api/recording-keys');
    writeFileSync(path.join(dir, 'key.pem'), keys.body[0].publicKey);
    const offline = await cli(['verify', path.join(dir, 'session.jsonl'), '--public-key', path.join(dir, 'key.pem')]);
    expect(offline.code, offline.stdout + offline.stderr).toBe(0);
  });

  it('pinpoints the edited event once someone drops the trigger and edits it', async () => {
    const admin = new pg.Client({ connectionString: dp.api.databaseUrl });
    await admin.connect();
    try {
      await expect(
        admin.query(`UPDATE "RecordingChunk" SET "searchText" = '' WHERE "sessionId" = $1`, [sessionId]),
      ).rejects.toMatchObject({ code: '42501' });
      await admin.query('ALTER TABLE "RecordingChunk" DISABLE TRIGGER USER');
      // Rewrite what the first query returned: 'zanzibar' becomes 'nothing'.
      await admin.query(
        `UPDATE "RecordingChunk" SET events = (
           SELECT jsonb_agg(CASE WHEN e->>'kind' = 'result' AND e->'payload'->'rows' = '[["zanzibar"]]'
                                 THEN jsonb_set(e, '{payload,rows}', '[["nothing"]]') ELSE e END ORDER BY i)::text
           FROM jsonb_array_elements(events::jsonb) WITH ORDINALITY AS x(e, i))
         WHERE "sessionId" = $1`,
        [sessionId],
      );
    } finally {
      await admin.query('ALTER TABLE "RecordingChunk" ENABLE TRIGGER USER');
      await admin.end();
    }
    const events = await dp.api.request('GET', `/api/sessions/${sessionId}/events`);
    const edited = events.body.events.find(
      (e: { kind: string; payload: { rows?: unknown } }) =>
        e.kind === 'result' && JSON.stringify(e.payload.rows) === '[["nothing"]]',
    );
    expect(edited).toBeTruthy();
    const verified = await dp.api.request('GET', `/api/sessions/${sessionId}/verify`);
    expect(verified.body).toMatchObject({
      ok: false,
      chain: 'broken',
      brokenAt: { seq: edited.seq, reason: 'hash-mismatch' },
    });
  });
});
