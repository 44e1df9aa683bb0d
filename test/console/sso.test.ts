import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';
import { run } from '../support/data-path.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc.js';
import { freePort } from '../support/ports.js';
import { launchBrowser, screenshot } from './browser.js';

// Single sign-on in the console with Debian's Chromium: the console offers SSO because
// /api/auth/config says so, the real API runs the OIDC code flow against a real provider
// (oidc-provider), and the console takes the tokens from the URL fragment, strips it, and
// renews the short-lived access token with the refresh token.
let api: TestApi;
let provider: TestOidcProvider;
let browser: Browser;

beforeAll(async () => {
  const build = await run(process.execPath, ['apps/console/scripts/build-if-stale.mjs'], { timeoutMs: 120_000 });
  expect(build.code, build.stderr + build.stdout).toBe(0);
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({ redirectUris: [`${apiUrl}/api/auth/oidc/callback`] });
  provider.accounts.set('olivia', { name: 'Olivia Example', groups: ['warden-admins'] });
  api = await startTestApi({
    config: {
      api: { host: '127.0.0.1', port },
      publicUrl: apiUrl,
      // Short-lived access tokens, so the test sees the console renew one.
      accessTokenTtlSeconds: 8,
      oidc: {
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        groupsClaim: 'groups',
        scopes: 'openid profile email groups',
        adminGroups: ['warden-admins'],
      },
    },
  });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await provider?.close();
});

describe('console sign-in with SSO', () => {
  it('signs in through the provider, strips the tokens from the URL, renews the access token and logs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(`${api.baseUrl}/sessions`);
    const sso = page.getByRole('link', { name: 'Sign in with SSO' });
    await sso.waitFor();
    expect(await sso.getAttribute('href')).toBe('/api/auth/oidc/login?return_to=%2Fsessions');
    await sso.click();

    // oidc-provider's development login, then its consent page.
    await page.locator('input[name="login"]').fill('olivia');
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    for (let i = 0; i < 5 && !page.url().startsWith(api.baseUrl); i++) {
      await page.locator('button[type="submit"]').click();
      await page.waitForLoadState();
    }
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
    expect(page.url()).toBe(`${api.baseUrl}/sessions`); // back where the sign-in started, fragment gone
    expect(await page.evaluate(() => window.location.hash)).toBe('');
    expect(await page.locator('header .who').textContent()).toContain('Olivia Example');
    const first = await page.evaluate(() => sessionStorage.getItem('warden.token'));
    expect(first).toMatch(/^ey/);
    await screenshot(page, 'sso-signed-in');

    // The 8 s access token is renewed in the background; the console keeps working past its expiry.
    await expect
      .poll(() => page.evaluate(() => sessionStorage.getItem('warden.token')), { timeout: 20_000 })
      .not.toBe(first);
    await page.waitForTimeout(9_000);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connections' }).click();
    await page.getByText('No connections yet.').waitFor();
    expect((await api.request('GET', '/api/users/me', { token: first })).status).toBe(401); // expired

    const current = await page.evaluate(() => sessionStorage.getItem('warden.token'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Warden' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Logging out ended the sign-in on the server: its still-unexpired access token is refused.
    await expect.poll(async () => (await api.request('GET', '/api/users/me', { token: current })).status).toBe(401);
    await context.close();
  }, 120_000);

  it('shows the provider’s refusal instead of signing in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${api.baseUrl}/#error=access_denied&error_description=the%20user%20said%20no`);
    await page.getByText('Single sign-on failed: the user said no').waitFor();
    expect(await page.evaluate(() => window.location.hash)).toBe('');
    await context.close();
  });
});
