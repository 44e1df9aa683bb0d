import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundPolicy, OutboundRefused, postOutbound } from './outbound-http.js';

describe('OutboundPolicy', () => {
  const strict = new OutboundPolicy();

  it('permits public addresses only, by default', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111']) {
      expect(strict.permits(address), address).toBe(true);
    }
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      'not-an-address',
    ]) {
      expect(strict.permits(address), address).toBe(false);
    }
  });

  it('lets the operator allow internal networks, and nothing else with them', () => {
    const allowed = new OutboundPolicy(['127.0.0.0/8', 'fd00::/8', '10.9.8.7']);
    expect(allowed.permits('127.0.0.1')).toBe(true);
    expect(allowed.permits('::ffff:127.0.0.1')).toBe(true);
    expect(allowed.permits('fd00::1')).toBe(true);
    expect(allowed.permits('10.9.8.7')).toBe(true);
    expect(allowed.permits('10.9.8.8')).toBe(false);
    expect(allowed.permits('169.254.169.254')).toBe(false);
  });

  it('refuses a malformed network setting at start', () => {
    expect(() => new OutboundPolicy(['10.0.0.0/33'])).toThrow(/not an IP network/);
    expect(() => new OutboundPolicy(['intranet'])).toThrow(/not an IP network/);
  });
});

describe('postOutbound', () => {
  let server: Server;
  let port: number;
  let received = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      received += 1;
      req.resume();
      res.writeHead(202).end('accepted');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const request = { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 5000 };

  it('refuses an internal IP literal and a name that resolves to one, before sending anything', async () => {
    const strict = new OutboundPolicy();
    const before = received;
    await expect(postOutbound(strict, `http://127.0.0.1:${port}/hook`, request)).rejects.toBeInstanceOf(
      OutboundRefused,
    );
    await expect(postOutbound(strict, `http://localhost:${port}/hook`, request)).rejects.toBeInstanceOf(
      OutboundRefused,
    );
    await expect(postOutbound(strict, `http://[::1]:${port}/hook`, request)).rejects.toBeInstanceOf(OutboundRefused);
    expect(received).toBe(before);
  });

  it('sends once the network is allowed, and reports the answer', async () => {
    const allowed = new OutboundPolicy(['127.0.0.0/8', '::1']);
    const res = await postOutbound(allowed, `http://localhost:${port}/hook`, request);
    expect(res).toEqual({ status: 202, ok: true, body: 'accepted' });
  });
});
