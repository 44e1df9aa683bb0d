import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderTranscript } from '@warden/recording';
import { samplePostgresRecording } from '@warden/recording/testing';
import { closedPort, exportText, tempDir } from './test-support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The CLI as users run it: a separate node process from the repository root. */
async function warden(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const apiUrl = `http://127.0.0.1:${await closedPort()}`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/src/main.ts', ...args],
      { cwd: root, env: { ...process.env, WARDEN_URL: apiUrl, WARDEN_TOKEN: '' } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
    );
  });
}

const recording = samplePostgresRecording();
const tmp = tempDir();
const intact = tmp.file('intact.jsonl', exportText(recording));
const key = tmp.file('key.pem', recording.signer.publicKeyPem);
afterAll(() => tmp.cleanup());

describe('warden (child process)', () => {
  it('verify exits 0 for an intact export', async () => {
    const { code, stdout } = await warden('verify', intact, '--public-key', key);
    expect(stdout).toContain('chain:     intact');
    expect(stdout).toMatch(/OK\n$/);
    expect(code).toBe(0);
  });

  it('verify exits 1 and names the seq of a deleted event', async () => {
    const lines = exportText(recording).split('\n');
    lines.splice(5, 1); // lines[0] is the header, lines[5] seq 5
    const { code, stdout } = await warden('verify', tmp.file('tampered.jsonl', lines.join('\n')), '--public-key', key);
    expect(stdout).toContain('chain:     BROKEN at seq 6 (seq-gap): expected seq 5, found seq 6: seq 5 is missing');
    expect(code).toBe(1);
  });

  it('verify exits 2 without a file', async () => {
    const { code, stderr } = await warden('verify');
    expect(stderr).toContain('Usage: warden verify');
    expect(code).toBe(2);
  });

  it('replay --no-wait prints the transcript of a file', async () => {
    const { code, stdout } = await warden('replay', intact, '--no-wait');
    expect(stdout).toBe(renderTranscript(recording.events));
    expect(code).toBe(0);
  });

  it('a session id with no API listening exits 1 with a clear message', async () => {
    const { code, stderr } = await warden('transcript', 'some-session');
    expect(stderr).toMatch(
      /^warden transcript: cannot reach the Warden API at http:\/\/127\.0\.0\.1:\d+: connection refused; is it running\? Set WARDEN_URL to its address\.\n$/,
    );
    expect(code).toBe(1);
  });
});
