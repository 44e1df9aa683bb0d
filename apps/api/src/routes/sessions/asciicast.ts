import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { ASCIICAST_CONTENT_TYPE, AsciicastWriter } from '@warden/recording';
import { ApiError } from '../../errors.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { auditRead, findReadableSession } from './access.js';
import { storedEvents } from './events.js';
import { SessionParams, textBody } from './schemas.js';

const AsciicastQuery = Type.Object(
  {
    channel: Type.Optional(
      Type.Integer({ minimum: 0, description: 'the SSH session channel; default: the first interactive shell' }),
    ),
  },
  { additionalProperties: false },
);

/**
 * An SSH session's interactive shell as an asciicast v2 file, playable with
 * `asciinema play` (and in asciinema-player). Built from the recording's ssh.shell,
 * ssh.data and ssh.resize events; times are the recording's (millisecond precision).
 */
export async function asciicastRoutes(app: ApiInstance) {
  const services = app.services;
  const { prisma } = services;

  app.get(
    '/sessions/:id/asciicast',
    {
      schema: {
        tags: ['sessions'],
        summary: "An SSH session's interactive shell as asciicast v2 (asciinema)",
        description:
          'Content type application/x-asciicast: a JSON header line, then [time, "o"|"i"|"r", data] lines. ' +
          '404 when the session has no recorded interactive shell (exec-only sessions: use /events or /transcript). ' +
          'Audited as session.asciicast.',
        params: SessionParams,
        querystring: AsciicastQuery,
        response: { 200: textBody(ASCIICAST_CONTENT_TYPE, 'the asciicast v2 file'), ...errors(400, 403, 404) },
      },
    },
    async (req, reply) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      if (session.protocol !== 'ssh') throw new ApiError(404, `session ${session.id} is not an SSH session`);
      const writer = new AsciicastWriter(req.query.channel !== undefined ? { channel: req.query.channel } : {});
      const events = storedEvents(prisma, session.id)[Symbol.asyncIterator]();
      // Read up to the shell's start before answering, so a session without one is a 404, not an empty 200.
      let head = '';
      for (;;) {
        const next = await events.next();
        if (next.done) break;
        head += writer.push(next.value);
        if (writer.started) break;
      }
      if (!writer.started) throw new ApiError(404, `session ${session.id} has no recorded interactive shell`);
      await auditRead(services, req, 'session.asciicast', session, {
        ...(req.query.channel !== undefined ? { channel: req.query.channel } : {}),
      });
      async function* lines() {
        yield head;
        let part = '';
        for (let next = await events.next(); !next.done; next = await events.next()) {
          part += writer.push(next.value);
          if (part.length >= 64 * 1024) {
            yield part;
            part = '';
          }
        }
        if (part) yield part;
      }
      return reply
        .type(ASCIICAST_CONTENT_TYPE)
        .header('content-disposition', `attachment; filename="session-${session.id}.cast"`)
        .send(Readable.from(lines()));
    },
  );
}
