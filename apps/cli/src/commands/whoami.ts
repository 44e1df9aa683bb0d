import { parseCommandArgs } from '../args.js';
import { EXIT_OK, type Command } from '../command.js';
import { apiUrl, authenticatedClient, currentToken } from '../credentials.js';

/** The parts of GET /api/users/me the CLI shows. */
export interface Me {
  name: string;
  kind: string;
  role: string;
  groups: { name: string; source: string }[];
}

export function describeIdentity(me: Me): string {
  const groups = me.groups.map((g) => (g.source === 'oidc' ? g.name : `${g.name} (${g.source})`)).join(', ');
  return `${me.name} (${me.kind}, role ${me.role}; groups: ${groups || 'none'})`;
}

export const whoamiCommand: Command = {
  name: 'whoami',
  summary: 'show who the current token belongs to',
  usage: `Usage: warden whoami

Shows the identity behind WARDEN_TOKEN, or behind your saved login for WARDEN_URL
(see \`warden login\`), as the API sees it: name, kind, role and groups.`,

  async run(args, ctx) {
    parseCommandArgs(args, {}, 0);
    const resolved = await currentToken(ctx.env, ctx.fetch);
    const api = await authenticatedClient(ctx.env, ctx.fetch);
    const me = await api.json<Me>('/api/users/me');
    ctx.stdout(`${describeIdentity(me)}\n`);
    const until = resolved.login
      ? `, access token valid until ${new Date(resolved.login.expires_at).toISOString()}`
      : '';
    ctx.stderr(`(${resolved.source} for ${apiUrl(ctx.env)}${until})\n`);
    return EXIT_OK;
  },
};
