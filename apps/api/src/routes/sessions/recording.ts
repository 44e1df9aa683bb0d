import { Readable } from 'node:stream';
import {
  EXPORT_CONTENT_TYPE,
  formatExportEvent,
  formatExportHeader,
  parsePublicKey,
  RecordingVerifier,
  TranscriptRenderer,
} from '@warden/recording';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { auditRead, findReadableSession, isEnded, presentDetail, sealingKeyPem, sealOf } from './access.js';
import { readEventPage, storedEvents } from './events.js';
import { EventsPage, EventsQuery, SessionParams, textBody, VerifyReport } from './schemas.js';

/** Streamed bodies are written in pieces of about this size rather than one write per event. */
const WRITE_BYTES = 64 * 1024;

/** Joins small strings into writes of about WRITE_BYTES. */
async function* coalesce(parts: AsyncIterable<string>): AsyncGenerator<string> {
  let pending = '';
  for await (const part of parts) {
    pending += part;
    if (pending.length >= WRITE_BYTES) {
      yield pending;
      pending = '';
    }
  }
  if (pending) yield pending;
}

/** Reading one recording: its events page by page, the export, the transcript and the verification report. */
export async function recordingRoutes(app: ApiInstance) {
  const services = app.services;
  const { prisma } = services;
  const tags = ['sessions'];

  app.get(
    '/sessions/:id/events',
    {
      schema: {
        tags,
        summary: "A page of the session's recorded events in seq order",
        description: 'Reading the first page (after=0) is audited as session.read.',
        params: SessionParams,
        querystring: EventsQuery,
        response: { 200: EventsPage, ...errors(400, 403, 404) },
      },
    },
    async (req) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      const after = req.query.after ?? 0;
      const { events, more } = await readEventPage(prisma, session.id, after, req.query.limit ?? 500);
      // One entry per reading, not per page: later pages continue the same read.
      if (after === 0) await auditRead(services, req, 'session.read', session, { view: 'events' });
      return { events, nextAfter: more ? events[events.length - 1]!.seq : null };
    },
  );

  app.get(
    '/sessions/:id/export',
    {
      schema: {
        tags,
        summary: 'Export the recording as JSON Lines: a header (session, seal, public key), then one event per line',
        description: 'Verifiable offline with `warden verify`. Audited as session.export.',
        params: SessionParams,
        response: { 200: textBody(EXPORT_CONTENT_TYPE, 'the export, streamed'), ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      const [publicKey, detail] = await Promise.all([sealingKeyPem(prisma, session), presentDetail(prisma, session)]);
      await auditRead(services, req, 'session.export', session);
      const { seal: _seal, ...summary } = detail;
      const header = formatExportHeader({ session: summary, seal: sealOf(session), publicKey });
      async function* lines() {
        yield header;
        for await (const event of storedEvents(prisma, session.id)) yield formatExportEvent(event);
      }
      return reply
        .type(EXPORT_CONTENT_TYPE)
        .header('content-disposition', `attachment; filename="session-${session.id}.jsonl"`)
        .send(Readable.from(coalesce(lines())));
    },
  );

  app.get(
    '/sessions/:id/transcript',
    {
      schema: {
        tags,
        summary: 'The session as a psql-style transcript',
        description: 'Audited as session.transcript.',
        params: SessionParams,
        response: { 200: textBody('text/plain', 'the transcript, streamed'), ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      await auditRead(services, req, 'session.transcript', session);
      // The renderer is what renderTranscript() runs, one event at a time, so long sessions stream.
      const renderer = new TranscriptRenderer();
      async function* text() {
        for await (const event of storedEvents(prisma, session.id)) yield renderer.render(event);
      }
      return reply.type('text/plain; charset=utf-8').send(Readable.from(coalesce(text())));
    },
  );

  app.get(
    '/sessions/:id/verify',
    {
      schema: {
        tags,
        summary: "Verify the recording's hash chain and Ed25519 seal",
        description:
          'A report, not an error: a tampered recording answers 200 with ok=false and the first broken seq. ' +
          'Audited as session.verify.',
        params: SessionParams,
        response: { 200: VerifyReport, ...errors(403, 404) },
      },
    },
    async (req) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      // Streamed through the verifier a few chunks at a time: memory stays flat however long the recording.
      const verifier = new RecordingVerifier(session.id);
      for await (const event of storedEvents(prisma, session.id)) verifier.add(event);
      const pem = await sealingKeyPem(prisma, session);
      const report = verifier.finish({
        seal: sealOf(session),
        publicKey: pem === null ? null : parsePublicKey(pem),
        ended: isEnded(session),
      });
      await auditRead(services, req, 'session.verify', session, {
        ok: report.ok,
        chain: report.chain,
        seal: report.seal,
        ...(report.brokenAt ? { brokenAt: report.brokenAt.seq } : {}),
      });
      return report;
    },
  );
}
