import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type CliContext, type Command } from './command.js';
import { ApiError } from './api-client.js';
import { connectCommand } from './commands/connect.js';
import { consoleCommand } from './commands/console.js';
import { exportCommand } from './commands/export.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { tokenCommand } from './commands/token.js';
import { whoamiCommand } from './commands/whoami.js';
import { replayCommand } from './commands/replay.js';
import { transcriptCommand } from './commands/transcript.js';
import { verifyCommand } from './commands/verify.js';

export type { CliContext, Command } from './command.js';

/** In the order `warden --help` lists them. */
export const commands: Command[] = [
  replayCommand,
  transcriptCommand,
  verifyCommand,
  exportCommand,
  loginCommand,
  logoutCommand,
  whoamiCommand,
  tokenCommand,
  connectCommand,
  consoleCommand,
];

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: warden <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `warden <command> --help` for its options. Commands that use the API reach it',
    'at WARDEN_URL (default http://127.0.0.1:8009) with the bearer token in WARDEN_TOKEN,',
    'or, when that is unset, the tokens `warden login` saved. `warden --version` says',
    'which build of the CLI runs.',
    '',
  ].join('\n');
}

/** Runs one command line and resolves to the process exit code; never throws for expected failures. */
export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === args[0]) : undefined;
    ctx.stdout(topic ? topic.usage + '\n' : overview());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    ctx.stdout(`${ctx.version ?? 'warden'}\n`);
    return EXIT_OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    ctx.stderr(`warden: unknown command "${name}"\n\n${overview()}`);
    return EXIT_USAGE;
  }
  if (args.includes('--help') || args.includes('-h')) {
    ctx.stdout(command.usage + '\n');
    return EXIT_OK;
  }
  try {
    return await command.run(args, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr(`warden ${command.name}: ${err.message}\n\n${command.usage}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof CliError || err instanceof ApiError) {
      ctx.stderr(`warden ${command.name}: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}
