import { createWriteStream, type WriteStream } from 'node:fs';
import type { EventEnvelope } from '@warden/events';

/**
 * Catalog events as JSON lines for log shippers (WARDEN_EVENTS_LOG=stdout or a file path): one
 * line per event, written by the replica that dispatched it, so each event appears once across
 * replicas. Lines are the envelope exactly as webhooks and the SSE stream carry it.
 */
export interface EventLog {
  write(envelope: EventEnvelope): void;
  close(): Promise<void>;
}

export function openEventLog(target: string | undefined): EventLog {
  if (!target) return { write() {}, close: async () => {} };
  if (target === 'stdout') {
    return { write: (e) => void process.stdout.write(`${JSON.stringify(e)}\n`), close: async () => {} };
  }
  const stream: WriteStream = createWriteStream(target, { flags: 'a', mode: 0o640 });
  return {
    write: (e) => void stream.write(`${JSON.stringify(e)}\n`),
    close: () => new Promise<void>((resolve) => stream.end(() => resolve())),
  };
}
