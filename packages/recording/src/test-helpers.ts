// Builds realistic recordings for tests, here and in packages that read recordings
// (`@warden/recording/testing`; not part of the main entry point).
import { randomBytes, randomUUID } from 'node:crypto';
import { HashChain } from './chain.js';
import type { EventDirection, EventKind, EventPayload, RecordedEvent, RecordingSeal } from './events.js';
import { RecordingSigner } from './signing.js';

export interface TestRecording {
  sessionId: string;
  events: RecordedEvent[];
  seal: RecordingSeal | null;
  signer: RecordingSigner;
}

/** A signer with a fresh random seed, as a deployment would derive one. */
export function testSigner(): RecordingSigner {
  return new RecordingSigner(randomBytes(32));
}

/**
 * Records events through the real HashChain with times `stepMs` apart from `start`,
 * so anything that verifies or replays them sees exactly what the gateway writes.
 */
export class RecordingBuilder {
  readonly chain: HashChain;
  readonly events: RecordedEvent[] = [];
  private now: number;

  constructor(
    readonly sessionId: string = randomUUID(),
    readonly signer: RecordingSigner = testSigner(),
    start = Date.parse('2025-03-01T09:00:00.000Z'),
  ) {
    this.chain = new HashChain(sessionId);
    this.now = start;
  }

  /** Appends an event `afterMs` after the previous one and returns its seq. */
  add(kind: EventKind, payload: EventPayload, options: { direction?: EventDirection; afterMs?: number } = {}): number {
    this.now += options.afterMs ?? 10;
    const direction = options.direction ?? defaultDirection(kind);
    const event = this.chain.append({ t: new Date(this.now).toISOString(), direction, kind, payload });
    this.events.push(event);
    return event.seq;
  }

  seal(): RecordingSeal {
    return this.signer.seal(this.sessionId, this.chain.lastSeq, this.chain.lastHash);
  }

  /** The events and a seal over all of them. */
  sealed(): TestRecording {
    return { sessionId: this.sessionId, events: this.events, seal: this.seal(), signer: this.signer };
  }
}

function defaultDirection(kind: EventKind): EventDirection {
  if (kind === 'query' || kind === 'prepare' || kind === 'execute') return 'client';
  if (kind.startsWith('session.')) return 'gateway';
  return 'server';
}

/** A short Postgres session: a SELECT with a table, a parameterised UPDATE, a blocked DROP, an error, a notice. */
export function samplePostgresRecording(sessionId: string = randomUUID(), signer = testSigner()): TestRecording {
  const b = new RecordingBuilder(sessionId, signer);
  b.add('session.start', {
    protocol: 'postgres',
    identity: { id: 'id-alice', name: 'alice', kind: 'user' },
    connection: { id: 'conn-1', name: 'app' },
    agent: { id: 'agent-1', name: 'dc1' },
    clientAddr: '10.0.0.7',
    clientTls: true,
    clientUser: 'app_ro',
    signingKeyId: signer.keyId,
  });
  const select = b.add('query', {
    text: 'SELECT id, name, avatar FROM users ORDER BY id;',
    decision: { action: 'allow' },
  });
  b.add('result', {
    ref: select,
    tag: 'SELECT 2',
    columns: [
      { name: 'id', typeOid: 23 },
      { name: 'name', typeOid: 25 },
      { name: 'avatar', typeOid: 17 },
    ],
    rows: [
      ['1', 'alice', { b64: Buffer.from([0xde, 0xad]).toString('base64') }],
      ['42', null, null],
    ],
    rowCount: 2,
    bytes: 64,
    ms: 1.25,
  });
  const update = b.add(
    'execute',
    {
      statement: '',
      portal: '',
      text: 'UPDATE users SET name = $2 WHERE id = $1',
      params: ['42', "o'brien"],
      decision: { action: 'allow' },
    },
    { afterMs: 1500 },
  );
  b.add('result', { ref: update, tag: 'UPDATE 1', rowCount: 0, bytes: 0, ms: 0.8 });
  const drop = b.add('query', {
    text: 'DROP TABLE users;',
    decision: { action: 'block', rule: 'no-ddl', message: 'DDL is not allowed on production' },
  });
  b.add('error', { ref: drop, code: '42501', message: 'DDL is not allowed on production', severity: 'ERROR' });
  const missing = b.add('query', { text: 'SELECT * FROM nope;', decision: { action: 'allow' } });
  b.add('error', {
    ref: missing,
    code: '42P01',
    message: 'relation "nope" does not exist',
    severity: 'ERROR',
    hint: 'Check the spelling.',
  });
  b.add('notice', { code: '00000', message: 'table "t" does not exist, skipping', severity: 'NOTICE' });
  b.add('session.end', {
    status: 'closed',
    reason: 'client terminated',
    counters: { bytesIn: 300, bytesOut: 900, statements: 4, blocked: 1 },
  });
  return b.sealed();
}
