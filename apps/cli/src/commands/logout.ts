import { ApiClient } from '../api-client.js';
import { parseCommandArgs } from '../args.js';
import { EXIT_OK, type Command } from '../command.js';
import { apiUrl, forgetLogin, loadLogin } from '../credentials.js';

export const logoutCommand: Command = {
  name: 'logout',
  summary: 'end your sign-in and forget its tokens',
  usage: `Usage: warden logout

Revokes your saved sign-in for WARDEN_URL at the API (its access and refresh tokens
stop working everywhere at once) and removes it from credentials.json.`,

  async run(args, ctx) {
    parseCommandArgs(args, {}, 0);
    const base = apiUrl(ctx.env);
    const login = await loadLogin(ctx.env);
    if (!login) {
      ctx.stderr(`not signed in to ${base}\n`);
      return EXIT_OK;
    }
    try {
      await new ApiClient(base, undefined, ctx.fetch).json('/api/auth/logout', {
        body: { refresh_token: login.refresh_token },
      });
    } catch (err) {
      // Already ended (401) is what logout wants; anything else is worth saying, but the tokens go anyway.
      if ((err as { status?: number }).status !== 401) ctx.stderr(`warning: ${(err as Error).message}\n`);
    }
    await forgetLogin(ctx.env);
    ctx.stdout(`Signed out of ${base}${login.name ? ` (${login.name})` : ''}\n`);
    return EXIT_OK;
  },
};
