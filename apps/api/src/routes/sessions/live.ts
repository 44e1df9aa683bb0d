import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrismaClient } from '@warden/db';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { auditRead, findReadableSession, isEnded } from './access.js';
import { storedEvents } from './events.js';
import { LiveQuery, SessionParams, textBody } from './schemas.js';

/** How often a watcher looks for new events. The gateway flushes every 200 ms, so this is about as live as it gets. */
export const LIVE_POLL_MS = 250;
/** A comment line after this much silence keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * The SSE stream of one session: every stored event after `after`, then new ones
 * as they are written, then an `end` event once the session has ended and all of
 * its events were sent. It polls the database, so it works whichever process (or
 * gateway replica) records the session.
 */
export async function* watchSession(
  prisma: PrismaClient,
  sessionId: string,
  after: number,
  signal: AbortSignal,
): AsyncGenerator<string> {
  // Sent at once so the client sees the stream open (and how soon to reconnect) before any event.
  yield 'retry: 1000\n\n';

  let last = after;
  let prevHash: string | undefined;
  let lastWrite = Date.now();
  while (!signal.aborted) {
    // Read whether it has ended before reading events: the gateway writes all of a
    // session's events before it marks the end, so once ended, this read gets the rest.
    const state = await prisma.session.findUnique({
      where: { id: sessionId },
      select: { status: true, endedAt: true, endReason: true },
    });
    for await (const event of storedEvents(prisma, sessionId, { after: last, prevHash })) {
      if (signal.aborted) return;
      yield `id: ${event.seq}\nevent: event\ndata: ${JSON.stringify(event)}\n\n`;
      last = event.seq;
      prevHash = event.hash;
      lastWrite = Date.now();
    }
    if (!state || isEnded(state)) {
      const end = { status: state?.status ?? 'deleted', endReason: state?.endReason ?? null, lastSeq: last };
      yield `event: end\ndata: ${JSON.stringify(end)}\n\n`;
      return;
    }
    if (Date.now() - lastWrite >= KEEPALIVE_MS) {
      yield ': keep-alive\n\n';
      lastWrite = Date.now();
    }
    try {
      await sleep(LIVE_POLL_MS, undefined, { signal });
    } catch {
      return; // the client went away
    }
  }
}

function lastEventId(header: string | string[] | undefined): number | undefined {
  const value = Number(Array.isArray(header) ? header[0] : header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

export async function liveRoutes(app: ApiInstance) {
  const services = app.services;
  const { prisma } = services;

  app.get(
    '/sessions/:id/live',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Watch a session live (Server-Sent Events)',
        description:
          'Sends the recorded events (`event: event`, `id:` its seq, `data:` the event as JSON), then new ones as ' +
          'they are written, then `event: end` once the session has ended. Reconnecting with Last-Event-ID resumes. ' +
          'Audited as session.watch.',
        params: SessionParams,
        querystring: LiveQuery,
        response: { 200: textBody('text/event-stream', 'the event stream'), ...errors(400, 403, 404) },
      },
    },
    async (req, reply) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      const after = req.query.after ?? lastEventId(req.headers['last-event-id']) ?? 0;
      await auditRead(services, req, 'session.watch', session, after > 0 ? { after } : {});
      const stop = new AbortController();
      // The response closes when the client disconnects (or the stream ends): stop polling either way.
      reply.raw.once('close', () => stop.abort());
      return reply
        .type('text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        .send(Readable.from(watchSession(prisma, session.id, after, stop.signal)));
    },
  );
}
