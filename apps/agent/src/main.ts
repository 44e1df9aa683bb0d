// The agent as its own process (what the Helm chart runs inside a customer network):
//   WARDEN_GATEWAY_ADDR=gateway:8010 WARDEN_AGENT_KEY=wda_... node --import tsx apps/agent/src/main.ts
import { readFileSync } from 'node:fs';
import { createLogger } from '@warden/runtime';
import { Agent } from './agent.js';

const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', name: 'warden-agent' });
const keyFile = process.env.WARDEN_AGENT_KEY_FILE;
const agentKey = (process.env.WARDEN_AGENT_KEY ?? (keyFile ? readFileSync(keyFile, 'utf8') : '')).trim();
if (!agentKey) {
  logger.fatal('set WARDEN_AGENT_KEY (or WARDEN_AGENT_KEY_FILE) to the key returned by POST /api/agents');
  process.exit(1);
}
const agent = new Agent({
  gatewayAddress: process.env.WARDEN_GATEWAY_ADDR ?? '127.0.0.1:8010',
  agentKey,
  logger,
  tls: process.env.WARDEN_GATEWAY_TLS === 'true',
});
agent.start();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'agent stopping');
    void agent.stop().then(() => process.exit(0));
  });
}
