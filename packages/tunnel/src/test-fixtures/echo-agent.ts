// A real agent process for tests that need to kill one: echoes every session.
// Usage: node --import tsx echo-agent.ts <gateway host:port> <agent key>
import { pipeline } from 'node:stream/promises';
import { TunnelClient } from '../tunnel-client.js';

const [address, agentKey] = process.argv.slice(2);
if (!address || !agentKey) throw new Error('usage: echo-agent.ts <address> <key>');
const client = new TunnelClient({
  address,
  agentKey,
  backoff: { initialMs: 50, maxMs: 200 },
  onSession: async (_open, stream) => {
    void pipeline(stream, stream).catch(() => {});
  },
});
client.on('connected', () => console.log('connected'));
client.start();
