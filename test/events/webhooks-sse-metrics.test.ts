import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@warden/events';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { uniqueName } from '../support/postgres.js';

// The event catalog end to end: a psql session through the real gateway and agent processes
// with a statement blocked by policy reaches a webhook receiver (signed, retried after a 500),
// the SSE stream and the JSON lines log; /metrics of the gateway and the API move with traffic.

const WEBHOOK_SECRET = 'whsec-test-Q2hhbmdlTWUtc2VjcmV0LTEyMzQ';
const CONNECTION_PASSWORD = 'conn-pass-Zq8vX2mL9wT4';
const TYPES = ['session.started', 'statement.blocked', 'session.ended'];

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let dp: DataPath;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let gatewayMetricsPort: number;
let agentMetricsPort: number;
let eventsLog: string;
let logDir: string;
let sse: { text: string; abort: AbortController };

async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 60_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.split(' ').at(-1));
  }
  return total;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  // A receiver that answers 500 to the very first delivery, then 200.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const answered = received.length === 0 ? 500 : 200;
      received.push({ headers: req.headers, body, answered });
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 500 ? 'try again' : 'ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  logDir = mkdtempSync(join(tmpdir(), 'warden-events-'));
  eventsLog = join(logDir, 'events.jsonl');
  gatewayMetricsPort = await freePort();
  agentMetricsPort = await freePort();
  dp = await startDataPath({
    redisPrefix: uniqueName('wevents'),
    connectionConfig: undefined,
    apiConfig: { webhookAttempts: 3, webhookRetryDelayMs: 300, eventsLog },
    gatewayEnv: { WARDEN_GATEWAY_METRICS_PORT: `127.0.0.1:${gatewayMetricsPort}` },
    agentEnv: { WARDEN_AGENT_METRICS_PORT: `127.0.0.1:${agentMetricsPort}` },
  });
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE audit_log (id int, what text)');
  await direct.end();
  // A literal password on the connection (the local server's trust auth ignores it): it must
  // never appear in an event or a log.
  const patched = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { config: { password: CONNECTION_PASSWORD } },
  });
  expect(patched.status).toBe(200);
  // The default pack (TRUNCATE is refused) exists once a connection was created with defaults.
  await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'pg-defaults',
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', database: dp.targetDb, user: 'postgres' },
    },
  });
  const attached = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { policies: ['default-guardrails'] },
  });
  expect(attached.status).toBe(200);
}, 180_000);

afterAll(async () => {
  sse?.abort.abort();
  await dp?.close();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

describe('events, webhooks, SSE and metrics', () => {
  let subscriptionId: string;
  let gatewayBefore: string;
  let sessionId: string;

  it('subscribes a webhook (secret write-only) and opens the SSE stream', async () => {
    const created = await dp.api.request('POST', '/api/webhooks', {
      body: { name: 'siem', url: receiverUrl, events: TYPES, secret: WEBHOOK_SECRET },
    });
    expect(created.status).toBe(201);
    expect(created.text).not.toContain(WEBHOOK_SECRET);
    subscriptionId = created.body.id;
    const bad = await dp.api.request('POST', '/api/webhooks', {
      body: { name: 'bad', url: receiverUrl, events: ['no.such.event'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('body.events.0');

    const abort = new AbortController();
    const res = await fetch(`${dp.api.baseUrl}/api/events/stream?types=${TYPES.join(',')}`, {
      headers: { authorization: `Bearer ${dp.adminKey}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    sse = { text: '', abort };
    void (async () => {
      const decoder = new TextDecoder();
      const reader = res.body!.getReader();
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read())
          sse.text += decoder.decode(r.value, { stream: true });
      } catch {
        /* aborted at the end */
      }
    })();
    await until('the stream preamble', () => sse.text.includes(': warden event stream'));
    gatewayBefore = await scrape(`http://127.0.0.1:${gatewayMetricsPort}/metrics`);
  });

  it('delivers signed events of a psql session with a blocked statement, retrying after a 500', async () => {
    const out = await dp.psql([], { input: 'SELECT 1 AS one;\nTRUNCATE audit_log;\n' });
    expect(out.stdout).toContain('one');
    expect(out.stderr).toMatch(/blocked by policy rule/);

    const envelopes = await until('three delivered event types', () => {
      const ok = received.filter((r) => r.answered === 200).map((r) => JSON.parse(r.body));
      const types = new Set(ok.map((e) => e.type));
      return TYPES.every((t) => types.has(t)) ? ok : undefined;
    });
    for (const r of received) {
      expect(r.headers['x-warden-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifyWebhook(WEBHOOK_SECRET, r.headers['x-warden-signature'] as string, r.body)).toBe(true);
      expect(verifyWebhook('another-secret-0123456789', r.headers['x-warden-signature'] as string, r.body)).toBe(false);
      expect(r.headers['x-warden-event']).toBe(JSON.parse(r.body).type);
    }
    // The first delivery was answered 500 and came again (same event id, same delivery id).
    const first = received[0]!;
    expect(first.answered).toBe(500);
    const again = received.slice(1).find((r) => r.headers['x-warden-delivery'] === first.headers['x-warden-delivery']);
    expect(again?.answered).toBe(200);
    expect(again?.headers['x-warden-event-id']).toBe(first.headers['x-warden-event-id']);

    // The envelope's fields in the documented order (docs/events.md).
    for (const e of envelopes)
      expect(Object.keys(e)).toEqual(['id', 'type', 'version', 'time', 'identity', 'connection', 'session', 'data']);
    const blocked = envelopes.find((e) => e.type === 'statement.blocked');
    expect(blocked).toMatchObject({
      version: 1,
      identity: { name: 'admin' },
      connection: { name: 'pg-test' },
      data: { rule: expect.any(String), statementHash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(blocked.id).toMatch(/^[0-9a-f-]{36}$/);
    sessionId = blocked.session.id;
    const ended = envelopes.find((e) => e.type === 'session.ended');
    expect(ended.session.id).toBe(sessionId);
    expect(ended.data).toMatchObject({ protocol: 'postgres', blocked: 1 });
    expect(ended.data.statements).toBeGreaterThanOrEqual(2);
    // Each event once: no id delivered twice with a 2xx.
    const okIds = received.filter((r) => r.answered === 200).map((r) => r.headers['x-warden-event-id']);
    expect(new Set(okIds).size).toBe(okIds.length);

    const deliveries = await dp.api.request('GET', `/api/webhooks/${subscriptionId}/deliveries`);
    expect(deliveries.status).toBe(200);
    const retried = deliveries.body.deliveries.find((d: { id: string }) => d.id === first.headers['x-warden-delivery']);
    expect(retried).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200 });
  }, 120_000);

  it('streams the same events over SSE and lists them', async () => {
    const ids = received.filter((r) => r.answered === 200).map((r) => r.headers['x-warden-event-id'] as string);
    await until('the SSE stream to carry every delivered event', () =>
      ids.every((id) => sse.text.includes(`id: ${id}\n`)),
    );
    const frames = sse.text.split('\n\n').filter((f) => f.startsWith('event: '));
    for (const frame of frames) {
      const [eventLine, idLine, dataLine] = frame.split('\n');
      const envelope = JSON.parse(dataLine!.slice('data: '.length));
      expect(eventLine).toBe(`event: ${envelope.type}`);
      expect(idLine).toBe(`id: ${envelope.id}`);
      expect(TYPES).toContain(envelope.type);
    }
    const list = await dp.api.request('GET', `/api/events?types=statement.blocked&limit=5`);
    expect(list.status).toBe(200);
    expect(list.body.events[0].session.id).toBe(sessionId);
    const unknownType = await dp.api.request('GET', `/api/events?types=nope`);
    expect(unknownType.status).toBe(400);

    // Resume: Last-Event-ID replays what came after it.
    const firstId = frames[0]!.split('\n')[1]!.slice('id: '.length);
    const abort = new AbortController();
    const resumed = await fetch(`${dp.api.baseUrl}/api/events/stream?types=${TYPES.join(',')}`, {
      headers: { authorization: `Bearer ${dp.adminKey}`, 'last-event-id': firstId },
      signal: abort.signal,
    });
    let replay = '';
    const reader = resumed.body!.getReader();
    const decoder = new TextDecoder();
    await until('the replay', async () => {
      const { value } = await reader.read();
      replay += decoder.decode(value, { stream: true });
      return ids.filter((id) => id !== firstId).every((id) => replay.includes(`id: ${id}\n`));
    });
    expect(replay).not.toContain(`id: ${firstId}\n`);
    abort.abort();
  }, 60_000);

  it('moves the gateway and API counters with the traffic', async () => {
    const after = await scrape(`http://127.0.0.1:${gatewayMetricsPort}/metrics`);
    const labels = { connection: 'pg-test', protocol: 'postgres' };
    expect(metric(after, 'warden_statements_total', labels)).toBeGreaterThan(
      metric(gatewayBefore, 'warden_statements_total', labels),
    );
    expect(metric(after, 'warden_statements_blocked_total', labels)).toBe(
      metric(gatewayBefore, 'warden_statements_blocked_total', labels) + 1,
    );
    expect(metric(after, 'warden_sessions_started_total', labels)).toBeGreaterThan(
      metric(gatewayBefore, 'warden_sessions_started_total', labels),
    );
    expect(metric(after, 'warden_client_bytes_sent_total', labels)).toBeGreaterThan(0);
    expect(metric(after, 'warden_agent_connections', { agent: 'edge' })).toBe(1);
    expect(metric(after, 'warden_policy_decide_seconds_count')).toBeGreaterThan(0);
    expect(metric(after, 'warden_relay_seconds_count')).toBeGreaterThan(0);
    expect(after).toContain('# TYPE warden_sessions_active gauge');

    const agent = await scrape(`http://127.0.0.1:${agentMetricsPort}/metrics`);
    expect(metric(agent, 'warden_agent_gateway_streams', { state: 'connected' })).toBe(1);
    expect(agent).toContain('# TYPE warden_process_cpu_seconds_total counter');

    const api = await scrape(`${dp.api.baseUrl}/metrics`);
    expect(metric(api, 'warden_events_total', { type: 'statement.blocked' })).toBeGreaterThanOrEqual(1);
    expect(metric(api, 'warden_webhook_deliveries_total', { result: 'retry' })).toBe(1);
    expect(metric(api, 'warden_webhook_deliveries_total', { result: 'delivered' })).toBeGreaterThanOrEqual(3);
    expect(api).toContain('warden_reviews_pending 0');
  });

  it('dead-letters a delivery nobody accepts and redelivers it', async () => {
    const closedPort = await freePort();
    const created = await dp.api.request('POST', '/api/webhooks', {
      body: { name: 'down', url: `http://127.0.0.1:${closedPort}/hook`, events: ['admin.change'] },
    });
    expect(created.status).toBe(201);
    // Generated, returned once.
    expect(created.body.secret).toMatch(/^whsec_/);
    const got = await dp.api.request('GET', `/api/webhooks/${created.body.id}`);
    expect(got.body.secret).toBeUndefined();
    await dp.api.request('POST', '/api/groups', { body: { name: 'event-test-group' } });
    const failed = await until('a dead letter', async () => {
      const res = await dp.api.request('GET', `/api/webhooks/down/deliveries?status=failed`);
      return res.body.deliveries.length ? res.body.deliveries : undefined;
    });
    expect(failed[0]).toMatchObject({ status: 'failed', attempts: 3, eventType: 'admin.change' });
    expect(failed[0].lastError).toMatch(/could not connect/);
    const redeliver = await dp.api.request('POST', `/api/webhooks/deliveries/${failed[0].id}/redeliver`);
    expect(redeliver.status).toBe(202);
    expect(redeliver.body.status).toBe('pending');
    await until('the redelivery to fail again', async () => {
      const res = await dp.api.request('GET', `/api/webhooks/down/deliveries?status=failed`);
      return res.body.deliveries.find((d: { id: string }) => d.id === failed[0].id)?.attempts === 6;
    });
  }, 60_000);

  it('writes JSON lines and never a secret', async () => {
    const lines = await until('the JSON lines log', () => {
      try {
        const text = readFileSync(eventsLog, 'utf8');
        return text.includes('statement.blocked') ? text.trim().split('\n') : undefined;
      } catch {
        return undefined;
      }
    });
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.some((e) => e.type === 'session.started' && e.session.id === sessionId)).toBe(true);
    // Each event once in the log.
    expect(new Set(logged.map((e) => e.id)).size).toBe(logged.length);

    const everything = [
      ...received.map((r) => r.body + JSON.stringify(r.headers)),
      sse.text,
      lines.join('\n'),
      dp.api.logs.join(''),
      dp.gateway.output(),
      dp.agent.output(),
    ].join('\n');
    for (const secret of [dp.adminKey, WEBHOOK_SECRET, CONNECTION_PASSWORD, dp.agentKey]) {
      expect(everything.includes(secret), 'a secret in an event or a log').toBe(false);
    }
    // API answers (the agent key is shown once when created, so only these two).
    const answers = dp.api.responses.join('\n');
    for (const secret of [WEBHOOK_SECRET, CONNECTION_PASSWORD]) {
      expect(answers.includes(secret), 'a secret in an API answer').toBe(false);
    }
  });
});
