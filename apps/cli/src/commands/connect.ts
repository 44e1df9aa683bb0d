import { spawn } from 'node:child_process';
import { parseCommandArgs } from '../args.js';
import { CliError, UsageError, type Command } from '../command.js';
import { apiUrl, authenticatedClient, currentToken } from '../credentials.js';
import type { Me } from './whoami.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Where the gateway's Postgres listener is: flags, WARDEN_POSTGRES_ADDR, or the API's host on 15432. */
function gatewayAddress(values: { host?: string; port?: string }, env: Record<string, string | undefined>) {
  const fromEnv = env.WARDEN_POSTGRES_ADDR ? /^(.*):(\d+)$/.exec(env.WARDEN_POSTGRES_ADDR) : null;
  const host = values.host ?? (fromEnv?.[1] || new URL(apiUrl(env)).hostname);
  const port = values.port ?? fromEnv?.[2] ?? '15432';
  if (!/^\d{1,5}$/.test(port)) throw new UsageError('--port must be a port number');
  return { host, port };
}

/** Text inside a shell's double quotes: `"`, `$`, backquote and backslash lose their meaning. */
function inDoubleQuotes(text: string): string {
  return text.replace(/[\\"$`]/g, '\\$&');
}

/** libpq keyword/value conninfo; values quoted as libpq reads them. */
function conninfo(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${/^[A-Za-z0-9._:/-]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}`)
    .join(' ');
}

export const connectCommand: Command = {
  name: 'connect',
  summary: 'print (or run) the psql command for a connection, with a fresh token',
  usage: `Usage: warden connect <connection> [--exec] [--host HOST] [--port PORT] [--sslmode MODE] [-- psql args...]

Prints the psql command that reaches <connection> through the Warden gateway as you,
with the password taken from \`warden token\` (so no token lands in your shell
history). With --exec, runs psql itself, handing it a fresh access token in the
PGPASSWORD environment variable (never on the command line, where other users could
see it in the process list).

  --exec             run psql instead of printing the command (extra args after --)
  --host, --port     the gateway's Postgres listener (default: WARDEN_POSTGRES_ADDR, or
                     the API's host and 15432)
  --sslmode MODE     default prefer on loopback, require elsewhere (the token is a password)`,

  async run(argv, ctx) {
    const dash = argv.indexOf('--');
    const args = dash === -1 ? argv : argv.slice(0, dash);
    const extra = dash === -1 ? [] : argv.slice(dash + 1);
    const { values, positionals } = parseCommandArgs(
      args,
      {
        exec: { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        sslmode: { type: 'string' },
      },
      1,
    );
    if (extra.length && !values.exec) throw new UsageError('psql arguments after -- need --exec');
    const connection = positionals[0]!;
    const { host, port } = gatewayAddress(values, ctx.env);
    // One call checks the token works and gives the informational user name.
    const me = await (await authenticatedClient(ctx.env, ctx.fetch)).json<Me>('/api/users/me');
    const sslmode = values.sslmode ?? (LOOPBACK.has(host) ? 'prefer' : 'require');
    const target = conninfo({ host, port, dbname: connection, user: me.name, sslmode });
    if (!values.exec) {
      // A line to paste or eval: it must run as printed, so it calls this CLI by a name the shell finds.
      const self = ctx.self?.command ?? 'warden';
      ctx.stdout(`PGPASSWORD="$(${self} token)" psql "${inDoubleQuotes(target)}"\n`);
      if (ctx.self && !ctx.self.onPath) {
        ctx.stderr(
          `(\`warden\` is not this CLI on your PATH, so the line runs it by its path; \`${ctx.self.install}\` installs it)\n`,
        );
      }
      return 0;
    }
    const { token } = await currentToken(ctx.env, ctx.fetch);
    const psql = ctx.env.WARDEN_PSQL || 'psql';
    return new Promise<number>((resolve, reject) => {
      const child = spawn(psql, [target, ...extra], {
        stdio: 'inherit',
        env: { ...ctx.env, PGPASSWORD: token } as NodeJS.ProcessEnv,
      });
      child.on('error', (err) =>
        reject(new CliError(`cannot run ${psql}: ${err.message} (set WARDEN_PSQL to its path)`)),
      );
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  },
};
