import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// An SSH username with a NUL character (issue 24, item 7): the lookup of the connection it names
// used to fail in Postgres, and the client was disconnected without a word. It must be told why,
// on the session's stderr as every other refusal after authentication, and the gateway stays up.
let dp: DataPath;

beforeAll(async () => {
  dp = await startDataPath();
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

interface ExecResult {
  ready: boolean;
  stderr: string;
  code: number | null;
  error?: string;
}

/** Logs in with the admin token as the password and runs `command`: what the client saw. */
function sshExec(username: string, command: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    const result: ExecResult = { ready: false, stderr: '', code: null };
    const timer = setTimeout(() => {
      result.error = 'timed out';
      client.end();
      resolve(result);
    }, 30_000);
    const done = () => {
      clearTimeout(timer);
      client.end();
      resolve(result);
    };
    client.once('ready', () => {
      result.ready = true;
      client.exec(command, (err, channel) => {
        if (err) {
          result.error = err.message;
          return done();
        }
        channel.on('data', () => {});
        channel.stderr.on('data', (d: Buffer) => (result.stderr += d.toString()));
        channel.on('exit', (code: number | null) => (result.code = code));
        channel.on('close', done);
      });
    });
    client.once('error', (err) => {
      result.error = err.message;
      done();
    });
    client.once('close', done);
    client.connect({
      host: '127.0.0.1',
      port: dp.sshPort,
      username,
      password: dp.adminKey,
      tryKeyboard: false,
      readyTimeout: 30_000,
    });
  });
}

describe('SSH username with a NUL character', () => {
  it.each([['pg-test\u0000'], ['\u0000'], ['admin\u0000+pg-test']])(
    'is refused with a message the client shows (%j)',
    async (username) => {
      const result = await sshExec(username, 'id');
      expect(result.ready).toBe(true);
      expect(result.stderr).toContain('Warden: the username contains a NUL character');
      expect(result.code).toBe(1);
    },
  );

  it('leaves the gateway up and serving, with nothing logged as a failure', async () => {
    // A well-formed username reaches the authorization step again (pg-test is a Postgres connection).
    const result = await sshExec('pg-test', 'id');
    expect(result.ready).toBe(true);
    expect(result.stderr).toContain('connection "pg-test" does not exist');
    expect(dp.gateway.output()).not.toMatch(/ssh session failed to start/);
    expect(dp.gateway.output()).not.toMatch(/invalid byte sequence/);
  });
});
