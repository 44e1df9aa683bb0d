// Writes recorded sessions straight into a test control plane, the way the gateway
// does (session row, hash-chained events in chunks, Ed25519 seal on the row, public
// key in RecordingKey), so API tests need no gateway, agent or target database.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@warden/db';
import {
  HashChain,
  recordingSignerFrom,
  type EventDirection,
  type EventPayload,
  type RecordedDecision,
  type RecordedEvent,
  type RecordingSeal,
  type RecordingSigner,
} from '@warden/recording';
import type { SecretBox } from '@warden/runtime';

/** Event kinds whose payload.text is a statement: what the gateway puts in a chunk's searchText. */
const SEARCHABLE = new Set(['query', 'prepare', 'execute', 'exec']);

export interface Ref {
  id: string;
  name: string;
}

export interface SessionSpec {
  identity: Ref;
  connection: Ref;
  agent?: Ref;
  startedAt?: Date;
  clientAddr?: string;
  /** Events per stored chunk (the gateway writes one chunk per flush). */
  chunkSize?: number;
}

export interface StatementSpec {
  text: string;
  /** A blocked statement never runs: it gets an error event instead of a result. */
  blocked?: string;
  rows?: string[][];
}

/** The deployment's signer, derived exactly as the gateway derives it from WARDEN_SECRET_KEY. */
export function signerOf(secretBox: SecretBox): RecordingSigner {
  return recordingSignerFrom(secretBox.derive.bind(secretBox));
}

/** A session being recorded: events are chained as added and stored on flush(). */
export class SessionWriter {
  readonly id = randomUUID();
  readonly events: RecordedEvent[] = [];
  private readonly chain = new HashChain(this.id);
  private pending: RecordedEvent[] = [];
  private now: number;
  private statements = 0;
  private blocked = 0;
  seal: RecordingSeal | null = null;

  private constructor(
    private readonly prisma: PrismaClient,
    private readonly signer: RecordingSigner,
    readonly spec: SessionSpec,
  ) {
    this.now = (spec.startedAt ?? new Date()).getTime();
  }

  /** Creates the session row and records session.start, as the gateway does when a client connects. */
  static async start(prisma: PrismaClient, secretBox: SecretBox, spec: SessionSpec): Promise<SessionWriter> {
    const signer = signerOf(secretBox);
    await prisma.recordingKey.upsert({
      where: { id: signer.keyId },
      create: { id: signer.keyId, publicKey: signer.publicKeyPem },
      update: {},
    });
    const writer = new SessionWriter(prisma, signer, spec);
    await prisma.session.create({
      data: {
        id: writer.id,
        identityId: spec.identity.id,
        connectionId: spec.connection.id,
        agentId: spec.agent?.id ?? null,
        protocol: 'postgres',
        gatewayId: 'gw-test',
        clientAddr: spec.clientAddr ?? '127.0.0.1',
        clientUser: spec.identity.name,
        startedAt: new Date(writer.now),
      },
    });
    writer.add('gateway', 'session.start', {
      protocol: 'postgres',
      identity: { ...spec.identity, kind: 'user' },
      connection: spec.connection,
      agent: spec.agent ?? { id: randomUUID(), name: 'agent' },
      clientAddr: spec.clientAddr ?? '127.0.0.1',
      clientTls: true,
      clientUser: spec.identity.name,
      signingKeyId: signer.keyId,
    });
    return writer;
  }

  add(direction: EventDirection, kind: string, payload: EventPayload): RecordedEvent {
    this.now += 7;
    const event = this.chain.append({ t: new Date(this.now).toISOString(), direction, kind, payload });
    this.events.push(event);
    this.pending.push(event);
    return event;
  }

  /** A simple-protocol statement and what the client got back. */
  statement(spec: StatementSpec): void {
    this.statements++;
    const decision: RecordedDecision = spec.blocked
      ? { action: 'block', rule: spec.blocked, message: `blocked by ${spec.blocked}` }
      : { action: 'allow' };
    const query = this.add('client', 'query', { text: spec.text, decision });
    if (spec.blocked) {
      this.blocked++;
      this.add('gateway', 'error', {
        ref: query.seq,
        code: '42501',
        message: decision.action === 'block' ? decision.message : '',
      });
      return;
    }
    const rows = spec.rows ?? [['1']];
    this.add('server', 'result', {
      ref: query.seq,
      tag: `SELECT ${rows.length}`,
      columns: rows[0]?.map((_, i) => ({ name: `c${i}`, typeOid: 25 })) ?? [],
      rows,
      rowCount: rows.length,
      bytes: rows.flat().join('').length,
      ms: 0.5,
    });
  }

  /** Stores the events added since the last flush, in chunks of spec.chunkSize. */
  async flush(): Promise<void> {
    const size = this.spec.chunkSize ?? 4;
    while (this.pending.length) {
      const chunk = this.pending.splice(0, size);
      const texts = new Set<string>();
      for (const e of chunk) {
        const text = (e.payload as { text?: unknown }).text;
        if (SEARCHABLE.has(e.kind) && typeof text === 'string') texts.add(text);
      }
      await this.prisma.recordingChunk.create({
        data: {
          sessionId: this.id,
          firstSeq: chunk[0]!.seq,
          lastSeq: chunk[chunk.length - 1]!.seq,
          firstAt: new Date(chunk[0]!.t),
          lastAt: new Date(chunk[chunk.length - 1]!.t),
          // Stored as the gateway stores them: prevHash is the previous event's hash.
          events: JSON.stringify(chunk.map(({ prevHash: _prevHash, ...stored }) => stored)),
          searchText: [...texts].join('\n'),
        },
      });
    }
  }

  /** Records session.end, stores everything and seals the row, as the gateway does when the client leaves. */
  async end(options: { status?: 'closed' | 'killed' | 'interrupted'; endedAt?: Date } = {}): Promise<RecordingSeal> {
    const status = options.status ?? 'closed';
    const counters = { bytesIn: 120 * this.statements, bytesOut: 480 * this.statements };
    this.add('gateway', 'session.end', {
      status,
      reason: 'client terminated',
      counters: { ...counters, statements: this.statements, blocked: this.blocked, masked: {} },
    });
    await this.flush();
    const seal = this.signer.seal(this.id, this.chain.lastSeq, this.chain.lastHash);
    await this.prisma.session.update({
      where: { id: this.id },
      data: {
        status,
        endReason: 'client terminated',
        endedAt: options.endedAt ?? new Date(this.now),
        bytesIn: BigInt(counters.bytesIn),
        bytesOut: BigInt(counters.bytesOut),
        statementCount: this.statements,
        blockedCount: this.blocked,
        eventCount: seal.lastSeq,
        finalHash: seal.finalHash,
        signature: seal.signature,
        signingKeyId: seal.signingKeyId,
        sealedSeq: seal.lastSeq,
        sealedAt: new Date(),
      },
    });
    this.seal = seal;
    return seal;
  }
}

/** A whole recorded, sealed session: start, the statements, end. */
export async function recordSession(
  prisma: PrismaClient,
  secretBox: SecretBox,
  spec: SessionSpec & { statements: StatementSpec[]; endedAt?: Date; active?: boolean },
): Promise<SessionWriter> {
  const writer = await SessionWriter.start(prisma, secretBox, spec);
  for (const statement of spec.statements) writer.statement(statement);
  if (spec.active) await writer.flush();
  else await writer.end({ endedAt: spec.endedAt });
  return writer;
}

/** A Postgres connection created through the API as the admin (agent `default` must exist). */
export async function createConnection(
  api: {
    request: (
      method: string,
      path: string,
      options?: { body?: unknown },
    ) => Promise<{ status: number; body: any; text: string }>;
  },
  name: string,
  options: Record<string, unknown> = {},
): Promise<Ref> {
  const res = await api.request('POST', '/api/connections', {
    body: {
      name,
      type: 'postgres',
      agent: 'default',
      config: { host: 'db', database: 'app', user: 'app', password: 'env:APP_DB_PASSWORD' },
      allowedGroups: ['engineering'],
      options,
      policies: [],
    },
  });
  if (res.status !== 201) throw new Error(`creating connection ${name}: ${res.status} ${res.text}`);
  return { id: res.body.id, name };
}

/** Parses a Server-Sent Events stream into events as they arrive. */
export async function* serverSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ event: string; id?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) yield { event, id, data: data.join('\n') };
    }
  }
}

/**
 * The first session started since `since` whose seal is written: a session's end, and
 * so its seal, lands after its client has gone, so tests wait for it.
 */
export async function sealedSession(prisma: PrismaClient, since: Date) {
  for (let i = 0; i < 100; i++) {
    const session = await prisma.session.findFirst({
      where: { startedAt: { gte: since }, finalHash: { not: null } },
      orderBy: { startedAt: 'asc' },
    });
    if (session) return session;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no sealed session');
}
