import { parseCommandArgs } from '../args.js';
import { EXIT_OK, type Command } from '../command.js';
import { currentToken } from '../credentials.js';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print a valid access token (refreshed when needed)',
  usage: `Usage: warden token

Prints the access token of your saved login for WARDEN_URL, refreshing it first when
it expires within a minute, or WARDEN_TOKEN when that is set. For scripts and
clients: PGPASSWORD="$(warden token)" psql ...`,

  async run(args, ctx) {
    parseCommandArgs(args, {}, 0);
    ctx.stdout(`${(await currentToken(ctx.env, ctx.fetch)).token}\n`);
    return EXIT_OK;
  },
};
