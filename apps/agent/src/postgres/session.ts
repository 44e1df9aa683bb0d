import type { Duplex } from 'node:stream';
import { BackendSerializer, FrontendParser, MessageBudget } from '@warden/pg-wire';
import {
  encodeReport,
  SESSION_REPORT,
  type PostgresCancelOpen,
  type PostgresSessionOpen,
  type SessionFactsReport,
} from '@warden/proto';
import type { TunnelStream } from '@warden/tunnel';
import type pg from 'pg';
import type { ResultMasker } from '@warden/masking';
import { SessionMaskingSetup } from './session-masking.js';
import { cancelOnTarget, connectTarget, TargetError } from './target-connection.js';
import { readTargetFacts } from './target-facts.js';

/**
 * Opens the target for a gateway session and relays bytes both ways. The target's
 * startup parameters, backend key and ReadyForQuery go first, as Postgres messages,
 * so the gateway can finish the client's startup. Backpressure: each side pauses
 * its source when the other side's buffer is full, so memory stays bounded.
 *
 * When the gateway asks for facts (a guarded connection), they are read on the logged-in
 * driver and reported before anything else: before the preamble and before SessionOpened,
 * so the gateway has them before it relays a byte.
 */
export async function servePostgresSession(open: PostgresSessionOpen, stream: TunnelStream): Promise<void> {
  const masking = new SessionMaskingSetup(open.masking);
  let facts: SessionFactsReport | undefined;
  const beforeTakeover = async (client: pg.Client): Promise<void> => {
    const maskedColumns = open.masking?.columns.map((c) => c.column);
    if (open.facts) facts = await readTargetFacts(client, undefined, maskedColumns);
    if (masking.active) await masking.prepare(client);
  };
  let target;
  try {
    target = await connectTarget(open, open.facts || masking.active ? { beforeTakeover } : {});
  } catch (error) {
    throw withCode(error);
  }
  const { socket } = target;
  // The gateway gave up (open timeout, client gone) while we were logging in:
  // close the target connection rather than leaking it.
  if (stream.destroyed) {
    socket.destroy();
    return;
  }
  if (facts) stream.report(SESSION_REPORT.facts, encodeReport(facts));
  const preamble: Buffer[] = [];
  for (const [name, value] of target.parameters) preamble.push(BackendSerializer.parameterStatus(name, value));
  preamble.push(BackendSerializer.backendKeyData(target.processId, target.secretKey));
  preamble.push(BackendSerializer.readyForQuery('I'));
  stream.write(Buffer.concat(preamble));
  if (masking.active) {
    const masker = masking.masker();
    relay(socket, stream, maskResults(masker, stream));
    relay(stream, socket, trackRequests(masker));
  } else {
    relay(socket, stream);
    relay(stream, socket);
  }
  const close = () => {
    socket.destroy();
    stream.destroy();
  };
  socket.once('close', close);
  socket.once('error', close);
  stream.once('close', close);
  stream.once('error', close);
}

/**
 * Target → gateway through the masker: raw sensitive values never enter the tunnel. The
 * counts of masked cells go out of band, as a report the target cannot forge.
 */
function maskResults(masker: ResultMasker, stream: TunnelStream) {
  return (chunk: Buffer): Buffer[] => {
    let pieces: Buffer[];
    try {
      pieces = masker.push(chunk);
    } catch {
      // A frame the masker cannot read is never forwarded: it could carry a raw value.
      throw new Error('the agent could not read a result frame from the target');
    }
    const counts = masker.takeCounts();
    if (Object.keys(counts).length) stream.report(SESSION_REPORT.masked, encodeReport(counts));
    return pieces;
  };
}

/**
 * Gateway → target, telling the masker what the client asked for, so rows that come
 * without a RowDescription of their own (a portal executed again, a prepared
 * statement described earlier) are matched to the right columns.
 */
function trackRequests(masker: ResultMasker) {
  // The chunks go on to the target as they come; the parser only reads them. A budget makes it
  // assemble a large message (a 60 MB statement) in one buffer as it arrives, instead of keeping
  // every chunk until the message is whole and then copying them all (twice its size at that
  // moment). Unlimited here: the gateway already bounds what it sends (its own buffer budget).
  const parser = new FrontendParser({ phase: 'normal', budget: new MessageBudget(Number.POSITIVE_INFINITY) });
  return (chunk: Buffer): Buffer[] => {
    parser.push(chunk);
    try {
      for (let message = parser.read(); message; message = parser.read()) {
        if (
          message.kind !== 'startup' &&
          message.kind !== 'sslRequest' &&
          message.kind !== 'gssEncRequest' &&
          message.kind !== 'cancelRequest'
        ) {
          masker.frontend(message);
        }
      }
      parser.handOff()?.();
    } catch {
      // The gateway only forwards whole, valid messages; anything else ends the session.
      throw new Error('the gateway sent a malformed message');
    }
    return [chunk];
  };
}

/**
 * Copies `from` to `to` through `transform`, pausing `from` while `to` is full, so
 * memory stays bounded. A transform that throws ends both sides: nothing it could
 * not read is forwarded.
 */
function relay(from: Duplex, to: Duplex, transform: (chunk: Buffer) => Buffer[] = (chunk) => [chunk]): void {
  from.on('data', (chunk: Buffer) => {
    let pieces: Buffer[];
    try {
      pieces = transform(chunk);
    } catch (error) {
      from.destroy();
      to.destroy(error as Error);
      return;
    }
    let full = false;
    for (const piece of pieces) full = !to.write(piece) || full;
    if (full) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => to.end());
}

export async function servePostgresCancel(open: PostgresCancelOpen, stream: TunnelStream): Promise<void> {
  await cancelOnTarget(open.target.host, open.target.port, open.processId, open.secretKey);
  stream.end();
}

function withCode(error: unknown): Error & { code?: string } {
  if (error instanceof TargetError) return Object.assign(new Error(error.message), { code: error.sqlstate });
  return Object.assign(new Error('the agent could not connect to the target'), { code: '08001' });
}
