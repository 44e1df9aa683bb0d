import { randomBytes } from 'node:crypto';
import { ControlBusUnavailableError, RedisControlBus, type BusLogger } from '@warden/control-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/api.js';
import { startFaultProxy, type FaultProxy } from './containment-proxy.js';

// The control bus when Redis goes away: publish and claim fail at once (or within the bus's 1 s
// command timeout when Redis stops answering) with an error an HTTP layer turns into 503, the bus
// says it is down, it comes back by itself, and closing it never waits on Redis. Redis is reached
// through a proxy this file owns; the shared Redis itself is never touched.

let proxy: FaultProxy;
const open: RedisControlBus[] = [];

beforeAll(async () => {
  const target = new URL(testRedisUrl);
  proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 6379) });
});
afterEach(async () => {
  proxy.restore();
  await Promise.all(open.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await proxy?.close();
});

function recordingLogger() {
  const warnings: string[] = [];
  const logger: BusLogger = { warn: (_o, msg) => warnings.push(msg ?? ''), error: () => {}, info: () => {} };
  return { logger, warnings };
}

async function busThroughProxy(prefix: string, logger?: BusLogger): Promise<RedisControlBus> {
  const bus = new RedisControlBus({
    url: proxy.url('redis'),
    prefix,
    heartbeatMs: 200,
    ...(logger ? { logger } : {}),
  });
  open.push(bus);
  await bus.ready();
  return bus;
}

/** Rejection of `promise`, with how long it took to come. */
async function failure(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected a rejection');
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const prefix = () => `warden-test-${randomBytes(4).toString('hex')}:bus:`;

describe('control bus with Redis gone', () => {
  it('publish and claim fail at once with ControlBusUnavailableError (503) while Redis refuses connections', async () => {
    const { logger, warnings } = recordingLogger();
    const bus = await busThroughProxy(prefix(), logger);
    expect(bus.health()).toEqual({ up: true });
    expect(proxy.accepted).toBeGreaterThan(0);
    proxy.cut();
    await until(() => !bus.health().up);
    const published = await failure(bus.publish('session.kill', { sessionId: 's1', reason: 'incident' }));
    expect(published.error).toBeInstanceOf(ControlBusUnavailableError);
    expect((published.error as ControlBusUnavailableError).statusCode).toBe(503);
    expect((published.error as Error).message).toMatch(/control bus \(Redis\) is unreachable/);
    // Not ioredis's 20 retries with backoff (≈100 s): the connection is known down, so at once.
    expect(published.ms).toBeLessThan(500);
    const claimed = await failure(bus.claim('review.created:r1', 1000));
    expect(claimed.error).toBeInstanceOf(ControlBusUnavailableError);
    expect(claimed.ms).toBeLessThan(500);
    const health = await bus.check();
    expect(health.up).toBe(false);
    expect(health.detail).toMatch(/publisher|subscriber/);
    expect(health.detail).not.toContain(String(proxy.port)); // never the address
    // Several reconnect attempts fail meanwhile; the log says it once per connection, not per attempt.
    await new Promise((r) => setTimeout(r, 1500));
    expect(warnings.filter((w) => w === 'control bus connection error').length).toBeLessThanOrEqual(2);
    expect(warnings.filter((w) => w.startsWith('control bus connection lost')).length).toBeLessThanOrEqual(2);
  });

  it('a Redis that stops answering costs one command timeout, then calls fail at once', async () => {
    const bus = await busThroughProxy(prefix());
    proxy.blackhole();
    const first = await failure(bus.publish('session.kill', { sessionId: 's1', reason: 'incident' }));
    expect(first.error).toBeInstanceOf(ControlBusUnavailableError);
    // The 1 s command timeout (plus a loaded machine's slack), not a hang.
    expect(first.ms).toBeLessThan(3000);
    // The silent connection was dropped and is being reopened: the next call does not wait again.
    await until(() => !bus.health().up, 5000);
    const second = await failure(bus.publish('session.kill', { sessionId: 's2', reason: 'incident' }));
    expect(second.error).toBeInstanceOf(ControlBusUnavailableError);
    expect(second.ms).toBeLessThan(500);
    const started = performance.now();
    expect((await bus.check()).up).toBe(false);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('comes back by itself: ready again, subscribed again, messages flow', async () => {
    const p = prefix();
    const bus = await busThroughProxy(p);
    // The receiver talks to Redis directly: only the publisher side and its own subscriber go through the proxy.
    const direct = new RedisControlBus({ url: testRedisUrl, prefix: p });
    open.push(direct);
    await direct.ready();
    proxy.cut();
    await until(() => !bus.health().up);
    proxy.restore();
    await until(async () => (await bus.check()).up, 15_000);
    // Both directions through the proxy work again, the subscription included (re-subscribed).
    const heardByProxied = new Promise((resolve) => bus.subscribe('identity.blocked', resolve));
    const heardDirect = new Promise((resolve) => direct.subscribe('session.kill', resolve));
    await bus.publish('session.kill', { sessionId: 's3', reason: 'after the outage' });
    await direct.publish('identity.blocked', { identityId: 'i1', reason: 'after the outage' });
    expect(await heardDirect).toEqual({ sessionId: 's3', reason: 'after the outage' });
    expect(await heardByProxied).toEqual({ identityId: 'i1', reason: 'after the outage' });
  });

  it('close() does not wait on a Redis that is gone or silent', async () => {
    for (const fault of ['cut', 'blackhole'] as const) {
      const bus = await busThroughProxy(prefix());
      proxy[fault]();
      const started = performance.now();
      await bus.close();
      expect(performance.now() - started, fault).toBeLessThan(3000);
      proxy.restore();
    }
  });
});
