import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { renderTranscript } from '@warden/recording';
import { samplePostgresRecording, testSigner } from '@warden/recording/testing';
import { run } from '../cli.js';
import { closedPort, exportText, fakeApi, sendJson, tempDir, testContext, type FakeApi } from '../test-support.js';

const recording = samplePostgresRecording();
const text = exportText(recording);
const tmp = tempDir();
const file = tmp.file('session.jsonl', text);
const keyFile = tmp.file('key.pem', recording.signer.publicKeyPem);
afterAll(() => tmp.cleanup());

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** The export with event `seq`'s line changed by `edit`. */
function tampered(seq: number, edit: (event: any) => void): string {
  const lines = text.split('\n');
  const event = JSON.parse(lines[seq]!);
  edit(event);
  lines[seq] = JSON.stringify(event);
  return lines.join('\n');
}

describe('warden verify', () => {
  it('accepts an intact export checked with the deployment key file', async () => {
    const ctx = testContext();
    expect(await run(['verify', file, '--public-key', keyFile], ctx)).toBe(0);
    expect(ctx.out()).toContain('chain:     intact\n');
    expect(ctx.out()).toContain(`seal:      valid, signed by key ${recording.signer.keyId} over seq 1..11\n`);
    expect(ctx.err()).toBe('');
  });

  it('accepts the key as base64 of its raw 32 bytes', async () => {
    const raw = recording.signer.publicKey.export({ format: 'jwk' }).x!;
    const ctx = testContext();
    expect(await run(['verify', file, '--public-key', Buffer.from(raw, 'base64url').toString('base64')], ctx)).toBe(0);
  });

  it('falls back to the embedded key, warning that it proves nothing', async () => {
    const ctx = testContext();
    expect(await run(['verify', file], ctx)).toBe(0);
    expect(ctx.out()).toContain('(embedded in the export)');
    expect(ctx.err()).toContain('proves only that the file is\nconsistent with itself');
    expect(ctx.err()).toContain('--public-key');
  });

  it('fails with the seq of an edited event', async () => {
    const path = tmp.file(
      'edited.jsonl',
      tampered(4, (e) => (e.payload.params[0] = '1')),
    );
    const ctx = testContext();
    expect(await run(['verify', path, '--public-key', keyFile], ctx)).toBe(1);
    expect(ctx.out()).toContain('chain:     BROKEN at seq 4 (hash-mismatch)');
    expect(ctx.out()).toMatch(/FAILED\n$/);
  });

  it("fails when the seal is checked with another deployment's key", async () => {
    const other = tmp.file('other.pem', testSigner().publicKeyPem);
    const ctx = testContext();
    expect(await run(['verify', file, '--public-key', other], ctx)).toBe(1);
    expect(ctx.out()).toContain('seal:      INVALID SIGNATURE');
  });

  it('prints the report as JSON with --json', async () => {
    const ctx = testContext();
    expect(await run(['verify', file, '--public-key', keyFile, '--json'], ctx)).toBe(0);
    expect(JSON.parse(ctx.out())).toMatchObject({
      ok: true,
      chain: 'intact',
      seal: 'valid',
      eventCount: 11,
      publicKeyId: recording.signer.keyId,
      keySource: '--public-key',
    });
  });

  it('reads the export from standard input for "-"', async () => {
    const ctx = testContext({ readStdin: async () => text });
    expect(await run(['verify', '-', '--public-key', keyFile], ctx)).toBe(0);
    expect(ctx.out()).toContain('(standard input)');
  });

  it('exits 2 on usage errors: no file, an unreadable key, an unknown flag', async () => {
    for (const args of [['verify'], ['verify', file, '--public-key', 'not a key'], ['verify', file, '--frobnicate']]) {
      const ctx = testContext();
      expect(await run(args, ctx)).toBe(2);
      expect(ctx.err()).toContain('Usage: warden verify');
    }
  });

  it('exits 1 naming the line of a malformed export', async () => {
    const path = tmp.file('broken.jsonl', text.replace('"seq":3', '"seq":"3"'));
    const ctx = testContext();
    expect(await run(['verify', path], ctx)).toBe(1);
    expect(ctx.err()).toContain(`${path} is not a Warden recording export: line 4: the event's "seq"`);
  });
});

describe('warden transcript and replay', () => {
  it('prints the transcript of a file', async () => {
    const ctx = testContext();
    expect(await run(['transcript', file], ctx)).toBe(0);
    expect(ctx.out()).toBe(renderTranscript(recording.events));
  });

  it('warns, but still shows, a recording that does not verify', async () => {
    const path = tmp.file('cut.jsonl', text.split('\n').slice(0, -3).join('\n'));
    const ctx = testContext();
    expect(await run(['transcript', path], ctx)).toBe(0);
    expect(ctx.err()).toContain('warning: this recording does not verify: its chain breaks at seq 10 (missing-events)');
    expect(ctx.out()).toContain('app=> SELECT * FROM nope;');
  });

  it('replays with the original gaps divided by --speed', async () => {
    const ctx = testContext();
    expect(await run(['replay', file, '--speed', '4'], ctx)).toBe(0);
    expect(ctx.sleeps).toEqual([2.5, 2.5, 375, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
    expect(ctx.out()).toBe(renderTranscript(recording.events));
  });

  it('replays without pauses with --no-wait, and rejects a bad --speed', async () => {
    const ctx = testContext();
    expect(await run(['replay', file, '--no-wait'], ctx)).toBe(0);
    expect(ctx.sleeps).toEqual([]);
    expect(await run(['replay', file, '--speed', 'fast'], testContext())).toBe(2);
  });

  it('fetches a session id from the API with WARDEN_URL and WARDEN_TOKEN', async () => {
    api = await fakeApi((_req, res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(text));
    const ctx = testContext({ env: { WARDEN_URL: api.url, WARDEN_TOKEN: 'secret' } });
    expect(await run(['transcript', recording.sessionId], ctx)).toBe(0);
    expect(api.requests[0]).toMatchObject({
      url: `/api/sessions/${recording.sessionId}/export`,
      authorization: 'Bearer secret',
    });
    expect(ctx.out()).toContain('app=> DROP TABLE users;');
  });
});

describe('warden export', () => {
  it('writes the export byte for byte to -o', async () => {
    api = await fakeApi((_req, res) => res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(text));
    const ctx = testContext({ env: { WARDEN_URL: api.url }, cwd: tmp.dir });
    expect(await run(['export', recording.sessionId, '-o', 'out.jsonl'], ctx)).toBe(0);
    expect(readFileSync(join(tmp.dir, 'out.jsonl'), 'utf8')).toBe(text);
    expect(ctx.err()).toBe(`exported 11 events of session ${recording.sessionId} to out.jsonl\n`);
  });

  it('writes to standard output without -o', async () => {
    api = await fakeApi((_req, res) => res.writeHead(200).end(text));
    const ctx = testContext({ env: { WARDEN_URL: api.url } });
    expect(await run(['export', recording.sessionId], ctx)).toBe(0);
    expect(ctx.out()).toBe(text);
  });

  it('refuses to save an answer that is not an export', async () => {
    api = await fakeApi((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
    const ctx = testContext({ env: { WARDEN_URL: api.url } });
    expect(await run(['export', 's1'], ctx)).toBe(1);
    expect(ctx.err()).toContain("the API's answer is not a recording export: line 1: not valid JSON");
  });

  it('exits 1 with the API error for 401, 403 and 404', async () => {
    const answers: Record<string, number> = { '/api/sessions/a/export': 401, '/api/sessions/b/export': 403 };
    api = await fakeApi((req, res) => {
      const status = answers[req.url ?? ''] ?? 404;
      sendJson(res, status, { statusCode: status, message: 'nope' });
    });
    const expected = [
      ['a', 'not authenticated: set WARDEN_TOKEN'],
      ['b', 'forbidden (403: nope)'],
      ['c', 'session c not found (404)'],
    ];
    for (const [id, message] of expected) {
      const ctx = testContext({ env: { WARDEN_URL: api.url } });
      expect(await run(['export', id!], ctx)).toBe(1);
      expect(ctx.err()).toContain(`warden export: ${message}`);
    }
  });

  it('exits 1 when the API is unreachable', async () => {
    const ctx = testContext({ env: { WARDEN_URL: `http://127.0.0.1:${await closedPort()}` } });
    expect(await run(['export', 's1'], ctx)).toBe(1);
    expect(ctx.err()).toContain('connection refused');
  });
});

describe('warden', () => {
  it('lists the commands with --help, and exits 2 for none or an unknown one', async () => {
    const help = testContext();
    expect(await run(['--help'], help)).toBe(0);
    for (const name of ['replay', 'transcript', 'verify', 'export']) expect(help.out()).toContain(`  ${name} `);
    expect(await run([], testContext())).toBe(2);
    const unknown = testContext();
    expect(await run(['frob'], unknown)).toBe(2);
    expect(unknown.err()).toContain('unknown command "frob"');
  });

  it("prints a command's usage with --help", async () => {
    const ctx = testContext();
    expect(await run(['replay', '--help'], ctx)).toBe(0);
    expect(ctx.out()).toContain('--no-wait');
  });
});
