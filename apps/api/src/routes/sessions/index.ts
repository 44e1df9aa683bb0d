import { Type } from 'typebox';
import { purgeExpiredRecordings } from '../../jobs/retention.js';
import { requireRole } from '../../plugins/auth.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { auditRead, findReadableSession, presentDetail } from './access.js';
import { asciicastRoutes } from './asciicast.js';
import { liveRoutes } from './live.js';
import { recordingRoutes } from './recording.js';
import { PurgeResult, RecordingKey, SessionDetail, SessionPage, SessionParams, SessionQuery } from './schemas.js';
import { listSessions } from './search.js';

/**
 * Sessions and their recordings: search, read, export, verify, watch live.
 * Registered under /api without a sub-prefix (it also serves /recording-keys).
 * People with role `user` read their own sessions; auditors and admins read all.
 */
export async function sessionRoutes(app: ApiInstance) {
  const services = app.services;
  const { prisma, audit } = services;
  const tags = ['sessions'];

  app.get(
    '/sessions',
    {
      schema: {
        tags,
        summary: 'Search sessions, newest first',
        description:
          'Filters combine. `q` searches the statements sessions ran (full text, every word must occur). ' +
          'Role `user` sees only their own sessions.',
        querystring: SessionQuery,
        response: { 200: SessionPage, ...errors(400) },
      },
    },
    async (req) => listSessions(prisma, req.principal, req.query),
  );

  app.get(
    '/sessions/:id',
    {
      schema: {
        tags,
        summary: 'A session: who, where, counters, masking, end and seal',
        description: 'Audited as session.read.',
        params: SessionParams,
        response: { 200: SessionDetail, ...errors(403, 404) },
      },
    },
    async (req) => {
      const session = await findReadableSession(prisma, req.principal, req.params.id);
      await auditRead(services, req, 'session.read', session, { view: 'summary' });
      return presentDetail(prisma, session);
    },
  );

  app.post(
    '/sessions/purge',
    {
      preValidation: requireRole('admin'),
      schema: {
        tags,
        summary: "Purge now the recordings past their connection's retentionDays",
        description:
          'What the scheduled retention job does (hourly by default): deletes the events, then the sessions, ' +
          'that ended before now - retentionDays. Active sessions are never purged. Each batch of up to 50 ' +
          'sessions is deleted together with its recording.purge audit entry, in one transaction.',
        response: { 200: PurgeResult, ...errors(403) },
      },
    },
    async (req) =>
      purgeExpiredRecordings(prisma, {
        actor: {
          id: req.principal?.identityId ?? null,
          name: req.principal?.name ?? 'unknown',
          ip: req.ip,
          userAgent: req.headers['user-agent'] ?? null,
        },
        onPurged: (connection, details) =>
          audit.announce(
            req,
            'recording.purge',
            { type: 'connection', id: connection.id, name: connection.name },
            details,
          ),
      }),
  );

  app.get(
    '/recording-keys',
    {
      schema: {
        tags,
        summary: 'Public keys that sealed recordings, for offline verification',
        response: { 200: Type.Array(RecordingKey) },
      },
    },
    async () => {
      const keys = await prisma.recordingKey.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return keys.map((k) => ({ id: k.id, publicKey: k.publicKey, createdAt: k.createdAt.toISOString() }));
    },
  );

  await app.register(recordingRoutes);
  await app.register(liveRoutes);
  await app.register(asciicastRoutes);
}
