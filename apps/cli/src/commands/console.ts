import { parseCommandArgs } from '../args.js';
import { browserAvailable } from '../browser.js';
import { EXIT_OK, UsageError, type Command } from '../command.js';
import { apiUrl, authenticatedClient } from '../credentials.js';

/** POST /api/auth/console-link. */
interface ConsoleLink {
  url: string;
  code: string;
  expiresIn: number;
}

export const consoleCommand: Command = {
  name: 'console',
  summary: 'open the web console in your browser, signed in as you',
  usage: `Usage: warden console [PATH] [--no-browser]

Opens the web console at WARDEN_URL signed in as whoever the current token belongs to
(WARDEN_TOKEN, an API key or access token, or your saved login): asks the API for a
one-time sign-in link and opens it in your browser, or prints it when no browser can
be opened. The link works once, within two minutes; the browser then has a sign-in of
its own (GET /api/auth/sign-ins), which the console's sign-out ends. A link opened a
second time ends that sign-in.

  PATH            where in the console to land, e.g. /sessions (default /)
  --no-browser    only print the link (also WARDEN_NO_BROWSER=1, and without a display)`,

  async run(args, ctx) {
    // [PATH] is optional: parse with as many positionals as were given, so a second one is an error.
    const given = args.filter((a) => !a.startsWith('-')).length;
    const { values, positionals } = parseCommandArgs(args, { 'no-browser': { type: 'boolean' } }, Math.min(given, 1));
    const path = positionals[0] ?? '/';
    if (!path.startsWith('/') || path.startsWith('//')) throw new UsageError('PATH must start with a single /');
    const api = await authenticatedClient(ctx.env, ctx.fetch);
    const link = await api.json<ConsoleLink>('/api/auth/console-link', { method: 'POST' });
    // The link on the address this CLI reached the API at (WARDEN_PUBLIC_URL may name another).
    const url = new URL(`${apiUrl(ctx.env)}/api/auth/console-login`);
    url.searchParams.set('code', link.code);
    if (path !== '/') url.searchParams.set('to', path);
    if (!values['no-browser'] && browserAvailable(ctx.env) && (await ctx.openBrowser?.(url.href))) {
      // Not printed too: a second use of the link would end the browser's new sign-in.
      ctx.stderr('Opened the console in your browser. If nothing shows, run `warden console --no-browser`.\n');
      return EXIT_OK;
    }
    ctx.stderr(`Open this link in your browser, once, within ${link.expiresIn} s, to use the console signed in:\n`);
    ctx.stdout(`${url.href}\n`);
    return EXIT_OK;
  },
};
