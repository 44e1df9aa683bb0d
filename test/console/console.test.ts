import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { run, startDataPath, type CommandResult, type DataPath } from '../support/data-path.js';
import { launchBrowser, screenshot, signIn } from './browser.js';
import { openStream, type Stream } from './sse.js';

// The web console end to end: the real API serving the built console, a real gateway and agent
// as separate processes sharing Redis, real psql clients, and Debian's Chromium driving the pages.
let dp: DataPath;
let browser: Browser;
let alice: { id: string; token: string }; // admin and approver (group dba)
let audrey: { id: string; token: string }; // auditor
let bob: { id: string; token: string }; // a user who may see no review
let page: Page;
let problems: string[];

const SSN = '123-45-6782';
const DELETE_SQL = 'DELETE FROM customers WHERE id = 2 -- justification: ticket 42';

async function direct(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: dp.directUrl });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A link of the main navigation (page texts may hold links with the same words). */
const nav = (p: Page, name: string) => p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });

async function pendingReview(statement: string) {
  for (let i = 0; i < 300; i++) {
    const row = await dp.api.db.prisma.review.findFirst({ where: { statement, status: 'pending' } });
    if (row) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no pending review for ${statement}`);
}

beforeAll(async () => {
  // The console's build, as `pnpm generate` makes it (a no-op when up to date).
  const build = await run(process.execPath, ['apps/console/scripts/build-if-stale.mjs'], { timeoutMs: 120_000 });
  expect(build.code, build.stderr + build.stdout).toBe(0);
  dp = await startDataPath({ redisPrefix: `warden-console-${randomBytes(4).toString('hex')}` });
  await direct('CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text)');
  await direct(
    `INSERT INTO customers VALUES (1, 'Ada', '123-45-6781'), (2, 'Bea', '${SSN}'), (3, 'Cy', '123-45-6783')`,
  );
  expect((await dp.api.request('POST', '/api/groups', { body: { name: 'dba' } })).status).toBe(201);
  alice = await createIdentity(dp.api, 'alice', { role: 'admin', groups: ['dba'] });
  audrey = await createIdentity(dp.api, 'audrey', { role: 'auditor' });
  bob = await createIdentity(dp.api, 'bob', { role: 'user' });
  const review = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'review-deletes',
      kind: 'review',
      rules: {
        reviews: [
          {
            type: 'require_review',
            name: 'deletes',
            match: { kinds: ['delete'] },
            approverGroups: ['dba'],
            timeoutSeconds: 300,
          },
        ],
      },
    },
  });
  expect(review.status, review.text).toBe(201);
  const masking = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'mask-ssn',
      kind: 'masking',
      rules: { masking: { columns: [{ column: 'public.customers.ssn', strategy: 'redact' }] } },
    },
  });
  expect(masking.status, masking.text).toBe(201);
  const attached = await dp.api.request('PATCH', '/api/connections/pg-test', {
    // The target role is the local superuser `postgres`: column masking on it needs the opt-in.
    body: { policies: ['review-deletes', 'mask-ssn'], options: { allowPrivilegedTargetWithMasking: true } },
  });
  expect(attached.status, attached.text).toBe(200);
  browser = await launchBrowser();
  ({ page, problems } = await signIn(browser, dp.api.baseUrl, alice.token));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await dp?.close();
});

describe('web console against the real stack', () => {
  let sessionId: string;

  it('shows a DELETE held for review live in the inbox, approves it, and the psql client completes', async () => {
    await page.getByText('Nothing waits for you').waitFor();
    await page.getByText('Live', { exact: true }).waitFor();

    const started = Date.now();
    const psql: Promise<CommandResult> = dp.psql([
      '-c',
      'SELECT id, name, ssn FROM customers ORDER BY id',
      '-c',
      DELETE_SQL,
    ]);
    const review = await pendingReview(DELETE_SQL);
    // No reload: the card arrives through /api/reviews/stream.
    const card = page.locator('article.review', { hasText: 'DELETE FROM customers' });
    await card.waitFor({ timeout: 30_000 });
    const shownAfter = Date.now() - started;
    // Screen readers hear it too (one polite live region).
    await expect
      .poll(() => page.getByTestId('announcer').textContent())
      .toBe('New review: admin on pg-test is waiting for approval.');
    expect(await card.getByTestId('statement').textContent()).toBe(DELETE_SQL);
    await expect.poll(() => card.textContent()).toContain('ticket 42');
    const text = (await card.textContent()) ?? '';
    expect(text).toContain('admin'); // who asked: the bootstrap admin's key ran psql
    expect(text).toContain('pg-test');
    expect(text).toMatch(/\d+ s ago/);
    expect((await direct('SELECT count(*)::int AS n FROM customers WHERE id = 2')).rows[0].n).toBe(1);
    await screenshot(page, 'inbox');

    await card.getByLabel('Comment (optional, shown to the requester)').fill('looks right, ticket 42');
    const clicked = Date.now();
    await card.getByRole('button', { name: 'Approve' }).click();
    const done = await psql;
    console.log(
      `console timing: psql start → card in the inbox ${shownAfter} ms; approve click → psql done ${Date.now() - clicked} ms`,
    );
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('DELETE 1');
    expect((await direct('SELECT count(*)::int AS n FROM customers WHERE id = 2')).rows[0].n).toBe(0);
    await page.getByTestId('flash').getByText('approved').waitFor();
    await page.getByText('Nothing waits for you').waitFor();
    const decided = await dp.api.request('GET', `/api/reviews/${review.id}`);
    expect(decided.body.status).toBe('approved');
    expect(decided.body.decisions[0]).toMatchObject({ by: { name: 'alice' }, comment: 'looks right, ticket 42' });
    sessionId = review.sessionId!;
    expect(sessionId).toBeTruthy();
  });

  it('opens the session: statements, decisions, masked results and a valid integrity badge', async () => {
    await expect
      .poll(async () => (await dp.api.request('GET', `/api/sessions/${sessionId}`)).body.sealed, { timeout: 30_000 })
      .toBe(true);
    await nav(page, 'Sessions').click();
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
    const link = page.locator(`a[href="/sessions/${sessionId}"]`);
    await link.waitFor();
    // Full-text search over statements, kept in the URL.
    await page.getByLabel('Statements containing').fill('nothing-like-this');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No session matches these filters.').waitFor();
    await page.getByLabel('Statements containing').fill('customers');
    await page.getByLabel('Status').selectOption('closed');
    await page.getByRole('button', { name: 'Search' }).click();
    await link.waitFor();
    expect(new URL(page.url()).search).toContain('q=customers');
    expect(new URL(page.url()).search).toContain('status=closed');
    await screenshot(page, 'sessions');
    await link.click();

    const badge = page.getByTestId('integrity');
    await badge.waitFor({ timeout: 30_000 });
    expect(await badge.textContent()).toContain('Integrity verified: chain intact, seal valid');
    const timeline = page.getByTestId('timeline');
    await timeline.getByText(DELETE_SQL).waitFor();
    const shown = (await timeline.textContent()) ?? '';
    expect(shown).toContain('[REDACTED]');
    expect(shown).toContain('Bea');
    expect(shown).toContain('held for review (deletes)');
    expect(shown).toMatch(/approved by alice/);
    expect(shown).toMatch(/SELECT 3 · 3 rows · [\d.]+ ms/);
    expect(shown).toMatch(/DELETE 1 · [\d.]+ ms/);
    expect(await page.content()).not.toContain(SSN);
    await screenshot(page, 'session');

    await page.getByRole('tab', { name: 'Transcript' }).click();
    const transcript = page.getByTestId('transcript');
    await transcript.waitFor();
    expect(await transcript.textContent()).toContain('[REDACTED]');
    expect(await transcript.textContent()).not.toContain(SSN);
    // The admin sees containment controls (the session has ended, so only the block).
    expect(await page.getByRole('button', { name: 'Block admin' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Kill session' }).count()).toBe(0);
  });

  it('creates a connection through the form, showing the API’s field errors beside the fields', async () => {
    await nav(page, 'Connections').click();
    await page.getByRole('link', { name: 'pg-test' }).waitFor();
    expect(await page.locator('tr', { hasText: 'pg-test' }).textContent()).toContain('online');
    await screenshot(page, 'connections');

    await page.getByRole('link', { name: 'New connection' }).click();
    await page.getByRole('heading', { name: 'New connection' }).waitFor();
    await page.getByLabel('Name').fill('pg-console');
    await page.getByLabel('Host').fill('bad host');
    await page.getByLabel('Database').fill('app');
    await page.getByLabel('User', { exact: true }).fill('app');
    await page.getByLabel('Password').fill('env:APP_DB_PASSWORD');
    await page.getByRole('button', { name: 'Create connection' }).click();
    const host = page.getByLabel('Host');
    await expect.poll(() => host.getAttribute('aria-invalid')).toBe('true');
    expect(await host.evaluate((el) => el === document.activeElement)).toBe(true);
    const hostError = page.locator('.field', { has: page.getByLabel('Host') }).locator('.field-error');
    expect(await hostError.textContent()).toMatch(/pattern/);
    await screenshot(page, 'connection-form-error');

    await host.fill('127.0.0.1');
    await page.getByRole('button', { name: 'Create connection' }).click();
    await page.getByRole('heading', { name: 'Connection pg-console' }).waitFor();
    expect(await page.getByTestId('agent-status').textContent()).toContain('Agent edge is online');
    const created = await dp.api.request('GET', '/api/connections/pg-console');
    expect(created.status).toBe(200);
    expect(created.body.config).toMatchObject({ host: '127.0.0.1', database: 'app', user: 'app' });
    expect(created.body.secrets.password).toEqual({ source: 'env', ref: 'env:APP_DB_PASSWORD' });
    await screenshot(page, 'connection');

    // Edit: the secret stays as it was when its field is left empty.
    await page.getByLabel('Description').fill('the console test');
    await page.getByLabel('Port').fill('6543');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Connection pg-console saved.').waitFor();
    const edited = await dp.api.request('GET', '/api/connections/pg-console');
    expect(edited.body).toMatchObject({ description: 'the console test', config: { port: 6543 } });
    expect(edited.body.secrets.password).toEqual({ source: 'env', ref: 'env:APP_DB_PASSWORD' });
  });

  it('edits policy rules as JSON and shows the policy engine’s validation messages', async () => {
    await nav(page, 'Policies').click();
    await page.getByRole('link', { name: 'mask-ssn' }).waitFor();
    await screenshot(page, 'policies');
    await page.getByRole('link', { name: 'mask-ssn' }).click();
    const rules = page.getByLabel('Rules (JSON)');
    await expect.poll(() => rules.inputValue()).toContain('public.customers.ssn');
    await rules.fill(
      JSON.stringify({ masking: { columns: [{ column: 'public.customers.ssn', strategy: 'scramble' }] } }),
    );
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => rules.getAttribute('aria-invalid')).toBe('true');
    const message = await page.locator('.field', { has: rules }).locator('.field-error').textContent();
    expect(message).toContain('masking.columns');
    await screenshot(page, 'policy-error');
    // Nothing changed on the server.
    const policy = await dp.api.request('GET', '/api/policies/mask-ssn');
    expect(policy.body.rules.masking.columns[0].strategy).toBe('redact');

    // A new guardrail from the kind's template, attached to a connection.
    await nav(page, 'Policies').click();
    await page.getByRole('link', { name: 'New policy' }).click();
    await page.getByLabel('Name').fill('no-drop');
    await page.getByLabel('Kind').selectOption('guardrail');
    await page.getByRole('checkbox', { name: 'pg-console' }).check();
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'Policy no-drop' }).waitFor();
    const created = await dp.api.request('GET', '/api/policies/no-drop');
    expect(created.body).toMatchObject({ kind: 'guardrail', connections: [{ name: 'pg-console' }] });
    expect(created.body.rules.guardrails[0]).toMatchObject({ type: 'deny_kinds', name: 'no-drop' });
  });

  it('works from the keyboard: sign in, skip to content, focus follows navigation', async () => {
    const context = await browser.newContext();
    const kb = await context.newPage();
    await kb.goto(dp.api.baseUrl + '/');
    await kb.getByRole('heading', { name: 'Sign in to Warden' }).waitFor();
    await kb.keyboard.press('Tab');
    expect(await kb.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('api-key');
    await kb.keyboard.type(alice.token);
    await kb.keyboard.press('Enter');
    await kb.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
    await kb.keyboard.press('Tab');
    expect(await kb.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await kb.keyboard.press('Enter');
    expect(await kb.evaluate(() => document.activeElement?.id)).toBe('main');
    // Navigating moves focus to the new page's heading.
    await nav(kb, 'Policies').focus();
    await kb.keyboard.press('Enter');
    await kb.getByRole('heading', { name: 'Policies', level: 1 }).waitFor();
    await expect.poll(() => kb.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    await context.close();
  });

  it('fits a phone screen', async () => {
    const phone = await signIn(browser, dp.api.baseUrl, alice.token, { width: 390, height: 844 });
    await screenshot(phone.page, 'inbox-phone');
    await nav(phone.page, 'Sessions').click();
    await phone.page.locator(`a[href="/sessions/${sessionId}"]`).waitFor();
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    expect(overflow).toBeLessThanOrEqual(390);
    await screenshot(phone.page, 'sessions-phone');
    await phone.page.locator(`a[href="/sessions/${sessionId}"]`).click();
    await phone.page.getByTestId('integrity').waitFor({ timeout: 30_000 });
    await phone.page.getByTestId('timeline').getByText(DELETE_SQL).waitFor();
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(phone.page, 'session-phone');
    await phone.context.close();
  });

  it('streams review changes only to those who may see them; an auditor sees sessions but cannot approve', async () => {
    const aliceStream: Stream = await openStream(dp.api.baseUrl, alice.token);
    const bobStream: Stream = await openStream(dp.api.baseUrl, bob.token);
    const auditor = await signIn(browser, dp.api.baseUrl, audrey.token);
    try {
      await auditor.page.getByText('Live', { exact: true }).waitFor();
      const sql = 'DELETE FROM customers WHERE id = 3';
      const psql = dp.psql(['-c', sql]);
      const review = await pendingReview(sql);

      // The auditor's inbox shows every pending review, read-only.
      const card = auditor.page.locator('article.review', { hasText: sql });
      await card.waitFor({ timeout: 30_000 });
      expect(await card.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      expect(await card.getByRole('button', { name: 'Deny' }).count()).toBe(0);
      await auditor.page.getByText('Auditors see every review but cannot approve or deny.').waitFor();
      await screenshot(auditor.page, 'inbox-auditor');
      const refused = await dp.api.request('POST', `/api/reviews/${review.id}/approve`, {
        token: audrey.token,
        body: {},
      });
      expect(refused.status).toBe(403);

      // Sessions: visible, without containment controls.
      await nav(auditor.page, 'Sessions').click();
      await auditor.page.locator(`a[href="/sessions/${sessionId}"]`).click();
      await auditor.page.getByTestId('integrity').waitFor({ timeout: 30_000 });
      expect(await auditor.page.getByRole('button', { name: /Block|Kill/ }).count()).toBe(0);

      const denied = await dp.api.request('POST', `/api/reviews/${review.id}/deny`, {
        token: alice.token,
        body: { comment: 'not now' },
      });
      expect(denied.status, denied.text).toBe(200);
      const failed = await psql;
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toContain('denied by alice: not now');

      const created = await aliceStream.next('review.created');
      expect(created).toMatchObject({ reviewId: review.id, status: 'pending' });
      expect(created.review).toMatchObject({ statement: sql, canDecide: true, requester: { name: 'admin' } });
      const decided = await aliceStream.next('review.decided');
      expect(decided).toMatchObject({
        reviewId: review.id,
        status: 'denied',
        by: { name: 'alice' },
        comment: 'not now',
      });
      // bob is neither requester nor approver: his stream stays silent.
      await new Promise((r) => setTimeout(r, 500));
      expect(bobStream.events.map((e) => e.event)).toEqual(['ready']);
    } finally {
      aliceStream.close();
      bobStream.close();
      await auditor.context.close();
    }
  });

  it('shows requesters their own requests with how they were decided', async () => {
    const requester = await signIn(browser, dp.api.baseUrl, dp.adminKey);
    await requester.page.getByRole('button', { name: 'My requests' }).click();
    const approved = requester.page.locator('article.review', { hasText: 'WHERE id = 2' });
    await approved.waitFor();
    expect(await approved.textContent()).toContain('alice approved');
    expect(await approved.locator('.badge').first().textContent()).toBe('approved');
    const denied = requester.page.locator('article.review', { hasText: 'WHERE id = 3' });
    expect(await denied.textContent()).toContain('alice denied');
    expect(await denied.textContent()).toContain('not now');
    expect(await requester.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await screenshot(requester.page, 'my-requests');
    await requester.context.close();
  });

  it('streams a live session as it runs, and an admin kills it from its page', async () => {
    const client = new pg.Client({ connectionString: dp.url() });
    const clientErrors: { code?: string; message: string }[] = [];
    client.on('error', (e) => clientErrors.push(e as { code?: string; message: string }));
    await client.connect();
    try {
      await client.query("SELECT 'first live' AS step");
      let live: string | undefined;
      await expect
        .poll(
          async () => {
            const res = await dp.api.request('GET', '/api/sessions?status=active&connection=pg-test');
            live = res.body.items[0]?.id;
            return live;
          },
          { timeout: 15_000 },
        )
        .toBeTruthy();
      // A pasted deep link: the API answers it with the console, which opens the session.
      await page.goto(`${dp.api.baseUrl}/sessions/${live}`);
      const timeline = page.getByTestId('timeline');
      await timeline.getByText("SELECT 'first live' AS step").waitFor({ timeout: 15_000 });
      await page.getByText('streaming').waitFor();
      await client.query("SELECT 'second live' AS step");
      await timeline.getByText("SELECT 'second live' AS step").waitFor({ timeout: 15_000 });
      await screenshot(page, 'session-live');

      await page.getByRole('button', { name: 'Kill session' }).click();
      const dialog = page.getByRole('dialog', { name: 'Kill this session?' });
      await dialog.getByLabel('Reason (shown to the client)').fill('incident 7');
      await dialog.getByRole('button', { name: 'Kill session' }).click();
      await expect.poll(() => clientErrors.map((e) => e.code), { timeout: 15_000 }).toContain('57P01');
      await page.locator('.badge.status-killed').waitFor({ timeout: 15_000 });
      await expect.poll(async () => (await dp.api.request('GET', `/api/sessions/${live}`)).body.status).toBe('killed');
    } finally {
      await client.end().catch(() => {});
    }
  });

  it('left no page errors and no token in the API logs', () => {
    // The browser logs every non-2xx response; the form tests provoke 400s on purpose.
    expect(problems.filter((p) => !/Failed to load resource: .* 400/.test(p))).toEqual([]);
    const logs = dp.api.logs.join('');
    for (const token of [alice.token, audrey.token, bob.token]) expect(logs).not.toContain(token);
  });
});
