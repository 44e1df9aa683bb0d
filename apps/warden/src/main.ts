// `pnpm start`: the whole Warden stack in one process, on embedded defaults.
import '@warden/runtime/lean-wasm';
import { loadConfig, stopOnSignals } from '@warden/runtime';
import { startStack } from './stack.js';

const config = loadConfig();
const stack = await startStack(config).catch((error: unknown) => {
  console.error(`warden failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
stopOnSignals(stack.logger, 'warden', () => stack.stop());

const apiUrl = config.publicUrl;
const lines = [
  '',
  'Warden is running',
  `  control plane  ${stack.db.mode === 'pglite' ? 'embedded PGlite at ' : ''}${stack.db.location}`,
  `  web console    ${apiUrl}/   (sign in with an API key, or SSO when configured)`,
  `  REST API       ${apiUrl}/api   (OpenAPI ${apiUrl}/api/openapi.json, docs ${apiUrl}/docs)`,
  `  agent gRPC     ${config.grpc.host}:${config.grpc.port}`,
  `  Postgres       ${config.postgres.host}:${config.postgres.port}`,
  `  SSH            ${config.ssh.host}:${config.ssh.port}   (ssh -p ${config.ssh.port} <connection>@${config.ssh.host}, token as password)`,
];
if (stack.generatedAdminKey) {
  lines.push(
    '',
    'First start: an admin API key was created. It is shown only this once; keep it:',
    `  ${stack.generatedAdminKey}`,
  );
}
lines.push(
  '',
  'Next:',
  `  export WARDEN_TOKEN=<admin key>`,
  `  curl -H "Authorization: Bearer $WARDEN_TOKEN" ${apiUrl}/api/agents`,
  `  curl -H "Authorization: Bearer $WARDEN_TOKEN" -H 'content-type: application/json' ${apiUrl}/api/connections \\`,
  `    -d '{"name":"pg-local","type":"postgres","agent":"default","config":{"host":"127.0.0.1","port":5432,"database":"postgres","user":"postgres"}}'`,
  `  psql "postgres://me:$WARDEN_TOKEN@${config.postgres.host}:${config.postgres.port}/pg-local"`,
  '',
  'Ctrl-C stops everything.',
  '',
);
process.stdout.write(lines.join('\n'));
