import { hostname } from 'node:os';
import { ConfigError, loadConfig } from '@warden/runtime';
import { describe, expect, it } from 'vitest';

// The gateway id a replica's sessions are recorded under must survive a restart on the same host,
// or a crashed replica's sessions are only ended once another replica takes it for gone (and not at
// all without one). Two replicas on one host must still get different ids.
describe('the default gateway id', () => {
  it('is the host name and the Postgres listener port, the same on every start (not the pid)', () => {
    const env = { WARDEN_POSTGRES_ADDR: '127.0.0.1:15433' };
    expect(loadConfig(env).gatewayId).toBe(`${hostname()}-15433`);
    expect(loadConfig(env).gatewayId).not.toContain(String(process.pid));
  });

  it('follows HOSTNAME (a Kubernetes pod’s name) when set', () => {
    expect(loadConfig({ HOSTNAME: 'warden-gateway-1' }).gatewayId).toBe('warden-gateway-1-15432');
  });

  it('differs for two replicas on one host, which listen on different ports', () => {
    const a = loadConfig({ HOSTNAME: 'node-a', WARDEN_POSTGRES_ADDR: '0.0.0.0:15432' }).gatewayId;
    const b = loadConfig({ HOSTNAME: 'node-a', WARDEN_POSTGRES_ADDR: '0.0.0.0:15442' }).gatewayId;
    expect(a).not.toBe(b);
  });

  it('yields to WARDEN_GATEWAY_ID', () => {
    expect(loadConfig({ HOSTNAME: 'node-a', WARDEN_GATEWAY_ID: ' gw-1 ' }).gatewayId).toBe('gw-1');
  });
});

describe('the gateway presence interval', () => {
  it('defaults to the agent presence interval, and can be set on its own', () => {
    expect(loadConfig({}).gatewayPresenceIntervalMs).toBe(30_000);
    expect(loadConfig({ WARDEN_AGENT_PRESENCE_INTERVAL_MS: '5000' }).gatewayPresenceIntervalMs).toBe(5000);
    expect(
      loadConfig({ WARDEN_AGENT_PRESENCE_INTERVAL_MS: '5000', WARDEN_GATEWAY_PRESENCE_INTERVAL_MS: '2000' })
        .gatewayPresenceIntervalMs,
    ).toBe(2000);
  });

  it('refuses what is not a positive integer', () => {
    expect(() => loadConfig({ WARDEN_GATEWAY_PRESENCE_INTERVAL_MS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ WARDEN_GATEWAY_PRESENCE_INTERVAL_MS: '1.5s' })).toThrow(
      /WARDEN_GATEWAY_PRESENCE_INTERVAL_MS must be a positive integer/,
    );
  });
});
