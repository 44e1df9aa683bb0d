// The agent as its own process (what the Helm chart runs inside a customer network):
//   pnpm build, then WARDEN_GATEWAY_ADDR=gateway:8010 WARDEN_AGENT_KEY=wda_... node --enable-source-maps apps/agent/dist/main.js
import '@warden/runtime/lean-wasm';
import { readFileSync } from 'node:fs';
import { Gauge } from 'prom-client';
import { createLogger, loadConfig, stopOnSignals } from '@warden/runtime';
import { metricsRegistry, serveMetrics } from '@warden/runtime/metrics';
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
let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
stopOnSignals(logger, 'agent', async () => {
  await agent.stop();
  await metrics?.close();
});

const config = loadConfig();
if (config.agentMetrics) {
  new Gauge({
    name: 'warden_agent_gateway_streams',
    help: 'Tunnel streams of this agent to its gateways, by state.',
    labelNames: ['state'],
    registers: [metricsRegistry],
    collect() {
      this.reset();
      for (const state of agent.states) this.inc({ state });
    },
  });
  metrics = await serveMetrics(config.agentMetrics, { token: config.metricsToken });
  logger.info({ port: metrics.port }, 'agent metrics at /metrics');
}
