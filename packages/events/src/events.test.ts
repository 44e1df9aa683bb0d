import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, EventCatalog } from './catalog.js';
import { createEnvelope, InvalidEventError } from './envelope.js';
import { assertNoSecrets, SecretInEventError } from './guard.js';
import { signWebhook, verifyWebhook } from './signature.js';

const blocked = {
  rule: 'default.destructive-ddl',
  message: 'TRUNCATE is not allowed',
  statementHash: 'a'.repeat(64),
  statementLength: 18,
  column: null,
};

describe('envelope', () => {
  it('has a uuid, the type, its version, an ISO time and null refs by default', () => {
    const e = createEnvelope('statement.blocked', { session: { id: 's1' } }, blocked);
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e).toMatchObject({
      type: 'statement.blocked',
      version: 1,
      identity: null,
      connection: null,
      session: { id: 's1' },
    });
    expect(new Date(e.time).toISOString()).toBe(e.time);
  });

  it('refuses data the catalog does not describe', () => {
    expect(() => createEnvelope('statement.blocked', {}, { ...blocked, statementHash: 'nope' })).toThrow(
      InvalidEventError,
    );
    expect(() => createEnvelope('nope' as 'statement.blocked', {}, blocked)).toThrow(/unknown event type/);
  });

  it('every catalog entry has a version and a summary', () => {
    expect(EVENT_TYPES.length).toBe(16);
    for (const type of EVENT_TYPES) {
      expect(EventCatalog[type].version).toBeGreaterThanOrEqual(1);
      expect(EventCatalog[type].summary.length).toBeGreaterThan(10);
    }
  });
});

describe('secret guard', () => {
  it.each([
    [{ password: 'hunter2' }, 'data.password'],
    [{ nested: { apiKey: 'x1' } }, 'data.nested.apiKey'],
    [{ note: 'wdn_abcdefghijklmnopqrstuvwxyz' }, 'data.note'],
    [{ list: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig'] }, 'data.list[0]'],
    [{ pem: '-----BEGIN PRIVATE KEY-----\nMII...' }, 'data.pem'],
  ])('refuses %j', (data, path) => {
    expect(() => assertNoSecrets(data)).toThrow(SecretInEventError);
    expect(() => assertNoSecrets(data)).toThrow(path);
  });

  it('lets counts keyed by sensitive column names and redacted markers through', () => {
    expect(() =>
      assertNoSecrets({ cells: { 'column:password': 3 }, details: { password: '[redacted]' } }),
    ).not.toThrow();
  });

  it('an admin.change carrying a secret in its details is refused', () => {
    const data = {
      action: 'connection.update',
      target: { type: 'connection', id: 'c', name: 'pg' },
      by: null,
      ip: null,
      details: { config: { password: 'plain' } },
    };
    expect(() => createEnvelope('admin.change', {}, data)).toThrow(SecretInEventError);
  });
});

describe('webhook signature', () => {
  const body = JSON.stringify({ id: 'e1' });
  it('signs "<t>.<body>" and verifies within the tolerance only', () => {
    const header = signWebhook('s3cret', 1_700_000_000, body);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook('s3cret', header, body, { now: 1_700_000_100 })).toBe(true);
    expect(verifyWebhook('s3cret', header, body, { now: 1_700_001_000 })).toBe(false);
    expect(verifyWebhook('other', header, body, { now: 1_700_000_000 })).toBe(false);
    expect(verifyWebhook('s3cret', header, body + ' ', { now: 1_700_000_000 })).toBe(false);
    expect(verifyWebhook('s3cret', undefined, body)).toBe(false);
    expect(verifyWebhook('s3cret', 't=x,v1=zz', body)).toBe(false);
  });
});
