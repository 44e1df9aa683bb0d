import type { Duplex } from 'node:stream';
import { BackendSerializer } from '@warden/pg-wire';
import type { PostgresCancelOpen, PostgresSessionOpen } from '@warden/proto';
import type { TunnelStream } from '@warden/tunnel';
import { cancelOnTarget, connectTarget, TargetError } from './target-connection.js';

/**
 * Opens the target for a gateway session and relays bytes both ways. The target's
 * startup parameters, backend key and ReadyForQuery go first, as Postgres messages,
 * so the gateway can finish the client's startup. Backpressure: each side pauses
 * its source when the other side's buffer is full, so memory stays bounded.
 */
export async function servePostgresSession(open: PostgresSessionOpen, stream: TunnelStream): Promise<void> {
  let target;
  try {
    target = await connectTarget(open);
  } catch (error) {
    throw withCode(error);
  }
  const { socket } = target;
  const preamble: Buffer[] = [];
  for (const [name, value] of target.parameters) preamble.push(BackendSerializer.parameterStatus(name, value));
  preamble.push(BackendSerializer.backendKeyData(target.processId, target.secretKey));
  preamble.push(BackendSerializer.readyForQuery('I'));
  stream.write(Buffer.concat(preamble));
  relay(socket, stream);
  relay(stream, socket);
  const close = () => {
    socket.destroy();
    stream.destroy();
  };
  socket.once('close', close);
  socket.once('error', close);
  stream.once('close', close);
  stream.once('error', close);
}

function relay(from: Duplex, to: Duplex): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
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
