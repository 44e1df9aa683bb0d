import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../cli.js';
import { fakeApi, sendJson, testContext, type FakeApi } from '../test-support.js';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const ME = { name: 'alice', kind: 'user', role: 'user', groups: [] };

/** The API's answers to what connect and console ask, recording the console-link calls' methods. */
async function stubApi(): Promise<FakeApi & { methods: string[] }> {
  const methods: string[] = [];
  const fake = await fakeApi((req, res) => {
    methods.push(`${req.method} ${req.url}`);
    if (req.url === '/api/users/me') return sendJson(res, 200, ME);
    if (req.url === '/api/auth/console-link' && req.method === 'POST') {
      return sendJson(res, 200, {
        url: 'https://public.example/api/auth/console-login?code=wdc_x',
        code: 'wdc_abc',
        expiresIn: 120,
      });
    }
    sendJson(res, 404, { message: 'nope' });
  });
  api = fake;
  return Object.assign(fake, { methods });
}

describe('warden connect (printed line)', () => {
  it('prints a psql line whose password comes from `warden token` when warden is on the PATH', async () => {
    const fake = await stubApi();
    const ctx = testContext({
      env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'wdn_secret', WARDEN_POSTGRES_ADDR: '127.0.0.1:15432' },
      self: { command: 'warden', onPath: true, install: 'npm install -g /x/apps/cli' },
    });
    expect(await run(['connect', 'pg-prod'], ctx)).toBe(0);
    expect(ctx.out()).toBe(
      'PGPASSWORD="$(warden token)" psql "host=127.0.0.1 port=15432 dbname=pg-prod user=alice sslmode=prefer"\n',
    );
    expect(ctx.out()).not.toContain('wdn_secret');
    expect(ctx.err()).toBe('');
  });

  it('runs the CLI by its path in the line, and says how to install it, when warden is not on the PATH', async () => {
    const fake = await stubApi();
    const ctx = testContext({
      env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'wdn_secret' },
      self: {
        command: '/usr/bin/node /repo/apps/cli/bin/warden.js',
        onPath: false,
        install: 'npm install -g /repo/apps/cli',
      },
    });
    expect(await run(['connect', 'pg-prod', '--port', '6000'], ctx)).toBe(0);
    expect(ctx.out()).toBe(
      'PGPASSWORD="$(/usr/bin/node /repo/apps/cli/bin/warden.js token)" psql "host=127.0.0.1 port=6000 dbname=pg-prod user=alice sslmode=prefer"\n',
    );
    expect(ctx.err()).toContain('`npm install -g /repo/apps/cli` installs it');
  });

  it('escapes what the shell would expand inside the double-quoted conninfo', async () => {
    const fake = await stubApi();
    const ctx = testContext({ env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 't' } });
    expect(await run(['connect', 'pg-prod', '--host', 'db$HOME`x`"q\\', '--sslmode', 'require'], ctx)).toBe(0);
    // libpq quoting first ('…', backslash doubled), then the shell's: \$ \` \" \\.
    expect(ctx.out()).toContain(`psql "host='db\\$HOME\\\`x\\\`\\"q\\\\\\\\' port=15432`);
  });
});

describe('warden console', () => {
  it('asks the API for a one-time link with the current token and prints it on the address WARDEN_URL names', async () => {
    const fake = await stubApi();
    const ctx = testContext({ env: { WARDEN_URL: fake.url + '/', WARDEN_TOKEN: 'wdn_key', WARDEN_NO_BROWSER: '1' } });
    expect(await run(['console'], ctx)).toBe(0);
    expect(fake.methods).toEqual(['POST /api/auth/console-link']);
    expect(fake.requests[0]!.authorization).toBe('Bearer wdn_key');
    expect(ctx.out()).toBe(`${fake.url}/api/auth/console-login?code=wdc_abc\n`);
    expect(ctx.err()).toContain('once, within 120 s');
  });

  it('lands on PATH, and refuses a PATH that is not a path on the console', async () => {
    const fake = await stubApi();
    const ctx = testContext({ env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'k' } });
    expect(await run(['console', '/sessions/42', '--no-browser'], ctx)).toBe(0);
    expect(ctx.out()).toBe(`${fake.url}/api/auth/console-login?code=wdc_abc&to=%2Fsessions%2F42\n`);
    for (const bad of [
      ['console', 'sessions'],
      ['console', '//evil.example/'],
      ['console', '/a', '/b'],
    ]) {
      const refused = testContext({ env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'k' } });
      expect(await run(bad, refused)).toBe(2);
      expect(refused.err()).toContain('Usage: warden console');
    }
    expect(fake.methods).toHaveLength(1);
  });

  it('opens the link in the browser instead of printing it, which would invite a second use', async () => {
    const fake = await stubApi();
    const opened: string[] = [];
    const ctx = testContext({
      env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'k', DISPLAY: ':0' },
      openBrowser: async (url) => (opened.push(url), true),
    });
    expect(await run(['console'], ctx)).toBe(0);
    expect(opened).toEqual([`${fake.url}/api/auth/console-login?code=wdc_abc`]);
    expect(ctx.out()).toBe('');
    expect(ctx.err()).toContain('Opened the console in your browser');
  });

  it('prints the link when the browser cannot be started', async () => {
    const fake = await stubApi();
    const ctx = testContext({
      env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'k', DISPLAY: ':0' },
      openBrowser: async () => false,
    });
    expect(await run(['console'], ctx)).toBe(0);
    expect(ctx.out()).toBe(`${fake.url}/api/auth/console-login?code=wdc_abc\n`);
  });

  it.runIf(process.platform === 'linux')('does not try a browser on Linux without a display (over SSH)', async () => {
    const fake = await stubApi();
    const opened: string[] = [];
    const ctx = testContext({
      env: { WARDEN_URL: fake.url, WARDEN_TOKEN: 'k' },
      openBrowser: async (url) => (opened.push(url), true),
    });
    expect(await run(['console'], ctx)).toBe(0);
    expect(opened).toEqual([]);
    expect(ctx.out()).toBe(`${fake.url}/api/auth/console-login?code=wdc_abc\n`);
  });

  it('exits 1 with the API error when the token is refused, without a link', async () => {
    api = await fakeApi((_req, res) => sendJson(res, 401, { statusCode: 401, message: 'the token has expired' }));
    const ctx = testContext({ env: { WARDEN_URL: api.url, WARDEN_TOKEN: 'old' } });
    expect(await run(['console', '--no-browser'], ctx)).toBe(1);
    expect(ctx.err()).toContain('warden console: the API at');
    expect(ctx.err()).toContain('the token has expired');
    expect(ctx.out()).toBe('');
  });
});

describe('warden --version', () => {
  it('prints the version the entry point gave, and lists console in --help', async () => {
    const ctx = testContext({ version: 'warden 0.1.0 (bundle, /x)' });
    expect(await run(['--version'], ctx)).toBe(0);
    expect(ctx.out()).toBe('warden 0.1.0 (bundle, /x)\n');
    const help = testContext();
    expect(await run(['--help'], help)).toBe(0);
    expect(help.out()).toMatch(/^ {2}console +open the web console in your browser, signed in as you$/m);
  });
});
