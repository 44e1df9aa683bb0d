import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ApiInstance } from '@warden/api';
import { RedisControlBus } from '@warden/control-bus';
import { openDatabase, type Database } from '@warden/db';
import { EventPublisher } from '@warden/events';
import { createLogger, loadConfig } from '@warden/runtime';
import { startTestApi, testRedisUrl, type TestApi } from '../support/api.js';
import { uniqueName } from '../support/postgres.js';

// Two API replicas on one control plane and one Redis: every event a producer stores is
// delivered exactly once to a subscribed webhook (the outbox is claimed with SKIP LOCKED,
// deliveries are unique per subscription and event, the BullMQ job id is the delivery id).

const prefix = uniqueName('wonce');
let a: TestApi;
let b: ApiInstance;
let bDb: Database;
let bBus: RedisControlBus;
let producerDb: Database;
let receiver: Server;
const received: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(JSON.parse(body).id);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  a = await startTestApi({ redisPrefix: prefix });
  const config = {
    ...loadConfig({
      DATABASE_URL: a.databaseUrl,
      REDIS_URL: testRedisUrl,
      WARDEN_REDIS_PREFIX: prefix,
      WARDEN_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    }),
    api: { host: '127.0.0.1', port: 0 },
  };
  bDb = await openDatabase({ databaseUrl: a.databaseUrl, dataDir: a.dataDir });
  bBus = new RedisControlBus({ url: testRedisUrl, prefix: `${prefix}:bus:` });
  await bBus.ready();
  b = await buildApi({
    prisma: bDb.prisma,
    secretBox: a.secretBox,
    config,
    logger: createLogger({ level: 'silent' }),
    bus: bBus,
  });
  await b.ready();
  producerDb = await openDatabase({ databaseUrl: a.databaseUrl, dataDir: a.dataDir });
}, 120_000);

afterAll(async () => {
  await b?.close();
  await bBus?.close();
  await bDb?.close();
  await producerDb?.close();
  await a?.close();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

describe('delivery across two API replicas', () => {
  it('delivers each of 60 events once', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
    const created = await a.request('POST', '/api/webhooks', {
      body: { name: 'once', url, events: ['agent.connected'], secret: 'a-secret-of-16-chars+' },
    });
    expect(created.status).toBe(201);
    const bus = new RedisControlBus({ url: testRedisUrl, prefix: `${prefix}:bus:` });
    await bus.ready();
    // A gateway-like producer in another "process": its own database client, the shared bus.
    const publisher = new EventPublisher(producerDb.prisma, { bus });
    const emitted = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        publisher.emit(
          'agent.connected',
          {},
          {
            agent: { id: `agent-${i}`, name: `edge-${i}` },
            gatewayId: 'gw-test',
            version: null,
            hostname: null,
            peer: null,
          },
        ),
      ),
    );
    await bus.close();
    const ids = emitted.map((e) => e!.id);
    const deadline = Date.now() + 60_000;
    while (new Set(received).size < ids.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // Time for a duplicate to show up, were there one.
    await new Promise((r) => setTimeout(r, 2000));
    expect(new Set(received)).toEqual(new Set(ids));
    expect(received.length).toBe(ids.length);
    const rows = await producerDb.prisma.webhookDelivery.groupBy({ by: ['status'], _count: true });
    expect(rows).toEqual([{ status: 'delivered', _count: 60 }]);
    const undispatched = await producerDb.prisma.event.count({ where: { dispatchedAt: null } });
    expect(undispatched).toBe(0);
  }, 120_000);
});
