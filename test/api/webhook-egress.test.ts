import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

// Webhook URLs are typed in by admins, and the API sits inside the network it guards: by default
// it sends nothing to loopback, private or link-local (cloud metadata) addresses, whether the URL
// names one directly or a host name resolves to one when the delivery goes out.
let api: TestApi;
let receiver: Server;
let port: number;
let received = 0;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    received += 1;
    req.resume();
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
  // The default policy, unlike the other tests' loopback allowance.
  api = await startTestApi({ config: { webhookAllowedNetworks: [], webhookAttempts: 3, webhookRetryDelayMs: 50 } });
});

afterAll(async () => {
  await api?.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

describe('webhook egress', () => {
  it('refuses a subscription to an internal address with a 400 naming the field', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      `http://127.0.0.1:${port}/hook`,
      'http://[::1]/hook',
      'http://10.0.0.5/hook',
      'http://localhost/hook',
    ]) {
      const res = await api.request('POST', '/api/webhooks', { body: { name: 'internal', url, events: [] } });
      expect(res.status, url).toBe(400);
      expect(res.body.details, url).toEqual([
        expect.objectContaining({ field: 'body.url', message: expect.stringContaining('internal address') }),
      ]);
    }
  });

  it('does not deliver to a host name that resolves to an internal address, and dead-letters it at once', async () => {
    const created = await api.request('POST', '/api/webhooks', {
      body: { name: 'repointed', url: 'https://hooks.example.com/warden', events: ['admin.change'] },
    });
    expect(created.status).toBe(201);
    // As if the name were re-pointed after the subscription was saved: it now resolves to loopback.
    await api.db.prisma.webhookSubscription.update({
      where: { id: created.body.id },
      data: { url: `http://localhost:${port}/hook` },
    });
    expect((await api.request('POST', '/api/groups', { body: { name: 'egress-trigger' } })).status).toBe(201);
    const failedDelivery = async () =>
      (await api.request('GET', `/api/webhooks/${created.body.id}/deliveries?status=failed`)).body.deliveries[0];
    await expect.poll(failedDelivery, { timeout: 10_000 }).toBeDefined();
    const delivery = await failedDelivery();
    expect(delivery.attempts).toBe(1);
    expect(delivery.lastError).toMatch(/^refused: localhost is an internal address/);
    expect(received).toBe(0);
  });
});
