import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';
import { run } from '../support/data-path.js';
import { launchBrowser } from '../console/browser.js';

// `warden console`: the CLI gets a one-time link with an API key, and a real browser opening
// it lands in the web console signed in, with a sign-in of its own.
let api: TestApi;
let alice: { id: string; token: string };
let browser: Browser;
const codes: string[] = [];

beforeAll(async () => {
  // The console's build, as `pnpm generate` makes it (a no-op when up to date).
  const build = await run(process.execPath, ['apps/console/scripts/build-if-stale.mjs'], { timeoutMs: 180_000 });
  expect(build.code, build.stderr + build.stdout).toBe(0);
  api = await startTestApi();
  alice = await createIdentity(api, 'alice');
  browser = await launchBrowser();
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await api?.close();
});

/** `warden console --no-browser` as a separate process; resolves to the printed link. */
async function wardenConsole(args: string[] = [], token = alice.token): Promise<URL> {
  const result = await run(
    process.execPath,
    ['--import', 'tsx', 'apps/cli/src/main.ts', 'console', '--no-browser', ...args],
    {
      env: { WARDEN_URL: api.baseUrl, WARDEN_TOKEN: token },
    },
  );
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toMatch(/Open this link in your browser, once, within 1[12]\d s/);
  const link = new URL(result.stdout.trim());
  codes.push(link.searchParams.get('code')!);
  return link;
}

/** A link's redirect, without following it. */
const open = (link: URL | string) => fetch(link, { redirect: 'manual' });

async function browserSignIns() {
  const res = await api.request('GET', '/api/auth/sign-ins?identity=alice');
  return (res.body as { client: string; revokedAt: string | null; revokedReason: string | null }[]).filter(
    (s) => s.client === 'browser',
  );
}

describe('warden console', () => {
  it('opens the console signed in as the API key’s identity, and the link works once', async () => {
    const link = await wardenConsole();
    expect(`${link.origin}${link.pathname}`).toBe(`${api.baseUrl}/api/auth/console-login`);
    expect(link.searchParams.get('code')).toMatch(/^wdc_/);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link.href);
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 30_000 });
    expect(await page.locator('.who').textContent()).toContain('alice');
    // The console took the tokens from the fragment and removed them from the address bar.
    expect(page.url()).toBe(`${api.baseUrl}/`);
    const [signIn] = await browserSignIns();
    expect(signIn).toMatchObject({ revokedAt: null });

    const audit = await api.request('GET', '/api/audit?action=auth.login');
    expect(audit.body.items[0]).toMatchObject({
      action: 'auth.login',
      actor: { id: alice.id, name: 'alice' },
      target: { type: 'identity', id: alice.id, name: 'alice' },
      details: { client: 'browser', via: 'console-link' },
    });

    // Opened again (copied, or a second click), the link is refused and ends the sign-in it started.
    const again = await open(link);
    expect(again.status).toBe(401);
    expect(await again.text()).toContain('This sign-in link was already used');
    expect((await browserSignIns())[0]).toMatchObject({ revokedReason: 'login code reused' });
    await page.reload();
    await page.getByRole('button', { name: 'Sign in with API key' }).waitFor({ timeout: 30_000 });
    await context.close();
  }, 120_000);

  it('lands on the PATH asked for, with the tokens only in the fragment', async () => {
    const link = await wardenConsole(['/sessions']);
    expect(link.searchParams.get('to')).toBe('/sessions');
    const res = await open(link);
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const location = new URL(res.headers.get('location')!, api.baseUrl);
    expect(location.pathname).toBe('/sessions');
    expect(location.search).toBe('');
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect(fragment.get('token_type')).toBe('Bearer');
    expect(fragment.get('refresh_token')).toMatch(/^wdr_/);
    const me = await api.request('GET', '/api/users/me', { token: fragment.get('access_token')! });
    expect(me.body.name).toBe('alice');
  });

  it('refuses another origin as the landing place, without spending the code', async () => {
    const link = await wardenConsole();
    for (const to of ['//evil.example/', 'https://evil.example/']) {
      const bad = new URL(link);
      bad.searchParams.set('to', to);
      const res = await open(bad);
      expect(res.status, to).toBe(400);
    }
    expect((await open(link)).status).toBe(302);
  });

  it('refuses unknown and expired codes (401), and never logs a code', async () => {
    const unknown = await open(`${api.baseUrl}/api/auth/console-login?code=wdc_not_a_code`);
    expect(unknown.status).toBe(401);
    expect(await unknown.text()).toContain('This sign-in link is not valid');

    const link = await wardenConsole();
    await api.db.prisma.refreshToken.updateMany({
      where: { kind: 'login_code', usedAt: null },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await open(link);
    expect(expired.status).toBe(401);
    expect(await expired.text()).toContain('This sign-in link has expired');

    const logs = api.logs.join('\n');
    expect(logs).toContain('/api/auth/console-login');
    for (const code of codes) expect(logs).not.toContain(code);
  });

  it('needs a valid token to make a link', async () => {
    expect((await api.request('POST', '/api/auth/console-link', { token: null })).status).toBe(401);
    const refused = await run(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/src/main.ts', 'console', '--no-browser'],
      {
        env: { WARDEN_URL: api.baseUrl, WARDEN_TOKEN: 'wdn_not_a_key' },
      },
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('rejected WARDEN_TOKEN (401');
    expect(refused.stdout).toBe('');
  });
});
