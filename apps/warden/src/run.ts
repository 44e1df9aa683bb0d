// What `pnpm start` does (apps/warden/src/main.ts): starts the stack and tells the operator
// where everything is. Apart from main.ts so that tests can run it with an `onPhase` observer.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSshHostKey } from '@warden/api';
import { stopOnSignals, type WardenConfig } from '@warden/runtime';
import { startStack, type RunningStack, type StackOptions } from './stack.js';

/** The lines that show a generated first admin key; written before the admin is committed. */
export function adminKeyLines(key: string): string[] {
  return [
    '',
    'First start: an admin API key was created. It is shown only this once; keep it:',
    `  ${key}`,
    'Lost it later? `npx -y pnpm@10.34.8 admin:recover`, run where DATABASE_URL / WARDEN_DATA_DIR reach this control plane, issues a new one.',
    '',
  ];
}

export async function runWarden(
  loadConfig: () => WardenConfig,
  options: Pick<StackOptions, 'onPhase'> = {},
): Promise<RunningStack> {
  let config: WardenConfig;
  let stack: RunningStack;
  let keyShown = false;
  try {
    config = loadConfig();
    stack = await startStack(config, {
      ...options,
      // Synchronous on purpose: the key must be out before the admin is committed.
      showAdminKey: (key) => {
        process.stdout.write(adminKeyLines(key).join('\n') + '\n');
        keyShown = true;
      },
    });
  } catch (error) {
    console.error(`warden failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  stopOnSignals(stack.logger, 'warden', async () => {
    await stack.stop();
    // The last line of a clean stop (Ctrl-C): the process then exits 0.
    process.stdout.write('Warden stopped.\n');
  });

  const apiUrl = config.publicUrl;
  // The gateway made or loaded it on start; clients compare it with what ssh shows on first connect.
  const hostKey = await readSshHostKey(stack.db.prisma);
  // The CLI's folder for `npm install -g`, relative when below here: `./apps/cli` (`apps/cli` would mean GitHub's apps/cli).
  const cliDir = fileURLToPath(new URL('../../cli', import.meta.url));
  const cliRelative = path.relative(process.cwd(), cliDir);
  const cliFolder =
    cliRelative && !cliRelative.startsWith('..') && !path.isAbsolute(cliRelative) ? `./${cliRelative}` : cliDir;
  const cliOnPath = (process.env.PATH ?? '').split(path.delimiter).some((d) => d && existsSync(path.join(d, 'warden')));
  const lines = [
    '',
    'Warden is running',
    `  control plane  ${stack.db.mode === 'pglite' ? 'embedded PGlite at ' : ''}${stack.db.location}`,
    `  web console    ${apiUrl}/   (sign in with an API key, or SSO when configured)`,
    `  REST API       ${apiUrl}/api   (OpenAPI ${apiUrl}/api/openapi.json, docs ${apiUrl}/docs)`,
    `  agent gRPC     ${config.grpc.host}:${config.grpc.port}`,
    `  Postgres       ${config.postgres.host}:${config.postgres.port}`,
    `  SSH            ${config.ssh.host}:${config.ssh.port}   (ssh -p ${config.ssh.port} <connection>@${config.ssh.host}, token as password)`,
    `                 host key ${hostKey?.fingerprint ?? '(none yet)'}   (the public key: GET /api/ssh/host-key)`,
  ];
  if (keyShown) {
    lines.push('', 'First start: the admin API key is printed above, before the start-up log; it is not shown again.');
  } else if (stack.createdAdmin) {
    lines.push('', 'First start: the admin signs in with the key from BOOTSTRAP_ADMIN_KEY.');
  }
  lines.push(
    '',
    'Next:',
    `  export WARDEN_TOKEN=<admin key>`,
    // The CLI's default API address is the default http://127.0.0.1:8009.
    ...(apiUrl === 'http://127.0.0.1:8009' ? [] : [`  export WARDEN_URL=${apiUrl}`]),
    `  curl -H "Authorization: Bearer $WARDEN_TOKEN" ${apiUrl}/api/agents`,
    `  curl -H "Authorization: Bearer $WARDEN_TOKEN" -H 'content-type: application/json' ${apiUrl}/api/connections \\`,
    `    -d '{"name":"pg-local","type":"postgres","agent":"default","config":{"host":"127.0.0.1","port":5432,"database":"postgres","user":"postgres"}}'`,
    `  psql "postgres://me:$WARDEN_TOKEN@${config.postgres.host}:${config.postgres.port}/pg-local"`,
    ...(cliOnPath ? [] : [`  npm install -g ${cliFolder}   # the warden CLI: login, connect, console, replay, verify`]),
    `  warden console   # the web console in your browser, signed in with WARDEN_TOKEN`,
    '',
    'Ctrl-C stops everything.',
    '',
  );
  process.stdout.write(lines.join('\n'));
  return stack;
}
