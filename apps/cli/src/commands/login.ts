import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from '../api-client.js';
import { browserAvailable } from '../browser.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT_OK, UsageError, type Command } from '../command.js';
import { apiUrl, fromTokenResponse, saveLogin, type TokenResponse } from '../credentials.js';
import { describeIdentity, type Me } from './whoami.js';

type CallbackOutcome = { code: string } | { error: string; description?: string };

const DONE_PAGE = (message: string) =>
  `<!doctype html><meta charset="utf-8"><title>Warden</title><p>${message}</p><p>You can close this tab.</p>`;

/**
 * A one-shot HTTP server on 127.0.0.1 that waits for the API's redirect to
 * `callbackPath` (unguessable, so no other local page can post a code to it).
 */
async function listenForCallback(callbackPath: string, timeoutMs: number, signal?: AbortSignal) {
  let settle!: (outcome: CallbackOutcome) => void;
  let fail!: (error: Error) => void;
  const result = new Promise<CallbackOutcome>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== callbackPath) {
      res.writeHead(404).end();
      return;
    }
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    if (code) {
      res.end(DONE_PAGE('Signed in to Warden. The terminal has your session.'));
      settle({ code });
    } else {
      res.end(DONE_PAGE(`Sign-in failed: ${(error ?? 'no code').replace(/[<>&"]/g, '')}`));
      settle({ error: error ?? 'no_code', description: url.searchParams.get('error_description') ?? undefined });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const timer = setTimeout(
    () => fail(new CliError(`no sign-in within ${Math.round(timeoutMs / 1000)} s; run \`warden login\` again`)),
    timeoutMs,
  );
  const onAbort = () => fail(new CliError('sign-in interrupted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    port: (server.address() as AddressInfo).port,
    result,
    close() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      server.closeAllConnections();
      server.close();
    },
  };
}

export const loginCommand: Command = {
  name: 'login',
  summary: 'sign in through your identity provider (OIDC) and save the tokens',
  usage: `Usage: warden login [--no-browser] [--timeout SECONDS]

Signs in to the Warden API at WARDEN_URL through its OpenID Connect provider: opens
the login page in your browser (and prints its URL), receives the result on a
one-shot listener on 127.0.0.1, and saves the access and refresh tokens in
$XDG_CONFIG_HOME/warden/credentials.json (mode 0600), per API URL. Commands then use
them (refreshed when needed) unless WARDEN_TOKEN is set.

  --no-browser        only print the URL (also WARDEN_NO_BROWSER=1, and without a display)
  --timeout SECONDS   how long to wait for the browser (default 300)`,

  async run(args, ctx) {
    const { values } = parseCommandArgs(args, { 'no-browser': { type: 'boolean' }, timeout: { type: 'string' } }, 0);
    const timeoutSeconds = values.timeout === undefined ? 300 : Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
      throw new UsageError('--timeout must be a positive number');
    const base = apiUrl(ctx.env);
    const api = new ApiClient(base, undefined, ctx.fetch);
    const config = await api.json<{ oidc: { enabled: boolean; issuer?: string } }>('/api/auth/config');
    if (!config.oidc.enabled) {
      throw new CliError(`${base} has no OIDC login configured; use an API key in WARDEN_TOKEN instead`);
    }
    const callbackPath = `/callback/${randomBytes(16).toString('hex')}`;
    const listener = await listenForCallback(callbackPath, timeoutSeconds * 1000, ctx.signal);
    try {
      const returnTo = `http://127.0.0.1:${listener.port}${callbackPath}`;
      const url = `${base}/api/auth/oidc/login?return_to=${encodeURIComponent(returnTo)}`;
      ctx.stderr(`Open this URL in your browser to sign in:\n\n  ${url}\n\nWaiting for the sign-in to finish...\n`);
      // Best effort: the URL is printed above for terminals without a browser.
      if (!values['no-browser'] && browserAvailable(ctx.env)) await ctx.openBrowser?.(url);
      const outcome = await listener.result;
      if ('error' in outcome) {
        throw new CliError(`sign-in failed: ${outcome.error}${outcome.description ? ` (${outcome.description})` : ''}`);
      }
      const tokens = await api.json<TokenResponse>('/api/auth/exchange', { body: { code: outcome.code } });
      const me = await new ApiClient(base, tokens.access_token, ctx.fetch).json<Me>('/api/users/me');
      await saveLogin(ctx.env, fromTokenResponse(tokens, me.name));
      ctx.stdout(`Signed in to ${base} as ${describeIdentity(me)}\n`);
      return EXIT_OK;
    } finally {
      listener.close();
    }
  },
};
