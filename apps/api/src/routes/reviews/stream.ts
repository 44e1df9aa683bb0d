import { PassThrough } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { authenticateToken, type Principal } from '@warden/access';
import type { ReviewDecided } from '@warden/control-bus';
import { isUuid } from '../../lookup.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { textBody } from '../sessions/schemas.js';
import { canSee, presentReview, reviewWithGroups } from './present.js';

/** A comment line after this much silence keeps proxies from closing an idle stream; the caller is re-checked then too. */
export const REVIEW_STREAM_KEEPALIVE_MS = 15_000;

function bearer(req: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}

/**
 * `GET /api/reviews/stream`: Server-Sent Events announcing review changes the caller may see, driven
 * by the control bus (`review.created`, `review.decided`), so it works whichever gateway or API
 * replica made the change. Messages only say "look now": the client re-reads its inbox on each one
 * (and on every reconnect, since nothing is replayed).
 *
 * Contract: `retry: 1000`, then `event: ready` (data `{}`), then for each change
 * `event: review.created` or `event: review.decided` with data
 * `{ "reviewId", "status", "review": <the review as GET /api/reviews/:id shows it to the caller> }`
 * (`review.decided` also carries `by` and `comment` when known); `: keep-alive` comments every 15 s.
 * The stream closes when the caller's token stops working (checked at each keep-alive).
 */
export async function reviewStreamRoutes(app: ApiInstance) {
  const { prisma, bus, config } = app.services;
  // Open streams end when the API closes, so shutdown does not wait for watchers to leave.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });

  app.get(
    '/reviews/stream',
    {
      schema: {
        tags: ['reviews'],
        summary: 'Watch review changes the caller may see (Server-Sent Events)',
        description:
          'Sends `event: ready`, then `event: review.created` / `event: review.decided` with data ' +
          '`{ reviewId, status, review }` (review as GET /api/reviews/:id presents it; decided also has `by`, ' +
          '`comment`) for reviews the caller may see; keep-alive comments every 15 s. Nothing is replayed: ' +
          're-read GET /api/reviews after (re)connecting.',
        response: { 200: textBody('text/event-stream', 'the event stream'), ...errors(401) },
      },
    },
    async (req, reply) => {
      const token = bearer(req);
      let principal: Principal = req.principal;
      const out = new PassThrough();
      let closed = false;
      const unsubscribe: (() => void)[] = [];
      const close = () => {
        if (closed) return;
        closed = true;
        open.delete(close);
        for (const stop of unsubscribe) stop();
        clearInterval(keepAlive);
        out.end();
      };
      // Deliveries are serialized so events leave in the order the bus delivered them.
      let queue = Promise.resolve();
      const announce = (type: 'review.created' | 'review.decided', reviewId: string, extra: Partial<ReviewDecided>) => {
        queue = queue.then(async () => {
          if (closed || !isUuid(reviewId)) return;
          try {
            const row = await prisma.review.findUnique({ where: { id: reviewId }, include: reviewWithGroups });
            if (!row || closed || !canSee(row, principal)) return;
            const review = presentReview(row, principal, config.publicUrl);
            const data = { reviewId, status: row.status, ...extra, review };
            out.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
          } catch (err) {
            req.log.warn({ err, reviewId }, 'review stream: reading the review failed');
          }
        });
      };
      unsubscribe.push(bus.subscribe('review.created', (m) => announce('review.created', m.reviewId, {})));
      unsubscribe.push(
        bus.subscribe('review.decided', (m) =>
          announce('review.decided', m.reviewId, {
            ...(m.by ? { by: m.by } : {}),
            ...(m.comment !== undefined ? { comment: m.comment } : {}),
          }),
        ),
      );
      // A blocked identity or a revoked/expired token must not keep watching: re-authenticate periodically.
      const keepAlive = setInterval(() => {
        void authenticateToken(prisma, token)
          .then((result) => {
            if (!result.ok) return close();
            principal = result.principal;
            if (!closed) out.write(': keep-alive\n\n');
          })
          .catch(() => close());
      }, REVIEW_STREAM_KEEPALIVE_MS);
      open.add(close);
      reply.raw.once('close', close);
      out.write('retry: 1000\n\nevent: ready\ndata: {}\n\n');
      return reply
        .type('text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache, no-transform')
        .header('x-accel-buffering', 'no')
        .send(out);
    },
  );
}
