import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../support/processes.js';

/** Where the console tests save screenshots (gitignored; CI keeps them as artifacts). */
export const screenshotDir = path.join(repoRoot, 'test-artifacts', 'console');

/** Debian's Chromium, headless; playwright-core downloads no browser. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.WARDEN_TEST_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A fresh browser context (its own sessionStorage) signed in with `token` through the form. */
export async function signIn(
  browser: Browser,
  baseUrl: string,
  token: string,
  viewport = { width: 1280, height: 860 },
) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  await page.goto(baseUrl + '/');
  await page.getByLabel('API key').fill(token);
  await page.getByRole('button', { name: 'Sign in with API key' }).click();
  await page.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
  return { context, page, problems };
}
