import { useCallback, useEffect, useRef, useState } from 'react';
import { api, apiText, ApiError } from '../api';
import { useAuth } from '../auth';
import { ConfirmButton } from '../components/confirm';
import { Player } from '../components/Player';
import { Timeline } from '../components/Timeline';
import { ErrorBox, Loading, useAnnounce } from '../components/status';
import { bytes, dateTime, duration } from '../format';
import { useApi, useEventStream } from '../hooks';
import { Link } from '../router';
import type { RecordedEvent, SessionDetail, VerifyReport } from '../types';

/** Events kept in the page; older pages of a huge recording are left to export/replay. */
const EVENT_CAP = 20_000;

function IntegrityBadge({
  session,
  report,
  error,
}: {
  session: SessionDetail;
  report?: VerifyReport;
  error: ApiError | null;
}) {
  if (session.status === 'active')
    return <span className="badge status-pending">Recording in progress — sealed when it ends</span>;
  if (error) return <span className="badge status-denied">Integrity not checked: {error.message}</span>;
  if (!report) return <span className="badge">Checking integrity…</span>;
  if (report.ok)
    return (
      <span className="badge integrity-ok" data-testid="integrity" title={report.summary}>
        ✔ Integrity verified: chain intact, seal {report.seal} ({report.eventCount} events)
      </span>
    );
  return (
    <span className="badge integrity-bad" data-testid="integrity" title={report.summary}>
      ✘ Integrity check failed: {report.summary}
      {report.brokenAt ? ` (at event ${report.brokenAt.seq}: ${report.brokenAt.reason})` : ''}
    </span>
  );
}

/** Reads every stored event of an ended session, page by page. */
async function readEvents(id: string, signal: AbortSignal): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await api<{ events: RecordedEvent[]; nextAfter: number | null }>(
      'GET',
      `/api/sessions/${id}/events?after=${after}&limit=2000`,
      undefined,
      signal,
    );
    all.push(...page.events);
    if (page.nextAfter === null || all.length >= EVENT_CAP) return all;
    after = page.nextAfter;
  }
}

export function SessionPage({ id }: { id: string }) {
  const { me } = useAuth();
  const announce = useAnnounce();
  const detail = useApi<SessionDetail>(`/api/sessions/${encodeURIComponent(id)}`);
  const session = detail.data;
  const live = session?.status === 'active';
  const verify = useApi<VerifyReport>(session && !live ? `/api/sessions/${id}/verify` : null);
  const [events, setEvents] = useState<RecordedEvent[]>([]);
  const [eventsError, setEventsError] = useState<ApiError | null>(null);
  const [eventsLoaded, setEventsLoaded] = useState(false);
  const [chosenTab, setTab] = useState<'timeline' | 'transcript' | null>(null);
  // SSH sessions read best as their transcript; SQL sessions as statements with their results.
  const tab = chosenTab ?? (detail.data?.protocol === 'ssh' ? 'transcript' : 'timeline');
  const [transcript, setTranscript] = useState<string | null>(null);
  const lastSeq = useRef(0);

  // Ended sessions: read the stored events once.
  useEffect(() => {
    if (!session || live) return;
    const abort = new AbortController();
    readEvents(session.id, abort.signal)
      .then((e) => {
        setEvents(e);
        setEventsLoaded(true);
        lastSeq.current = e.at(-1)?.seq ?? 0;
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') setEventsError(e as ApiError);
      });
    return () => abort.abort();
  }, [session?.id, live]);

  // Live sessions: stream events as they are written, resuming after the last one on reconnect.
  const onLive = useCallback(
    (e: { event: string; data: string }) => {
      if (e.event === 'event') {
        const ev = JSON.parse(e.data) as RecordedEvent;
        if (ev.seq <= lastSeq.current) return;
        lastSeq.current = ev.seq;
        setEvents((cur) => (cur.length >= EVENT_CAP ? cur : [...cur, ev]));
        if (ev.kind === 'query' || ev.kind === 'execute') announce('New statement in the live session.');
      } else if (e.event === 'end') {
        announce('The session has ended.');
        detail.reload();
        return 'stop';
      }
    },
    [announce, detail.reload],
  );
  const liveState = useEventStream(live ? `/api/sessions/${id}/live` : null, onLive, {
    resume: () => `/api/sessions/${id}/live?after=${lastSeq.current}`,
  });

  useEffect(() => {
    if (tab !== 'transcript' || !session) return;
    setTranscript(null);
    apiText(`/api/sessions/${session.id}/transcript`)
      .then((t) => setTranscript(t ?? ''))
      .catch((e: unknown) => setTranscript(`Could not load the transcript: ${(e as Error).message}`));
  }, [tab, session?.id, session?.status, events.length > 0]);

  if (detail.error) return <ErrorBox error={detail.error} title="Could not load the session" onRetry={detail.reload} />;
  if (!session) return <Loading what="the session" />;
  const masked = Object.entries(session.maskedCells);
  return (
    <section aria-labelledby="session-title">
      <p>
        <Link to="/sessions">← Sessions</Link>
      </p>
      <div className="page-head">
        <h1 id="session-title" tabIndex={-1}>
          {session.identity.name} on {session.connection.name}
        </h1>
        <IntegrityBadge session={session} report={verify.data} error={verify.error} />
      </div>
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <span className={`badge status-${session.status}`}>{live ? '● live' : session.status}</span>
          {session.endReason ? ` (${session.endReason})` : ''}
          {live ? (
            <span className={`live live-${liveState}`}> {liveState === 'open' ? 'streaming' : liveState}</span>
          ) : null}
        </dd>
        <dt>Protocol</dt>
        <dd>{session.protocol}</dd>
        <dt>Started</dt>
        <dd>
          {dateTime(session.startedAt)} ({duration(session.startedAt, session.endedAt)})
        </dd>
        <dt>Client</dt>
        <dd>
          {session.clientAddr ?? 'unknown'}
          {session.protocol === 'ssh' ? ', SSH' : session.clientTls ? ', TLS' : ', no TLS'}
          {session.clientUser ? `, as ${session.clientUser}` : ''}
        </dd>
        <dt>Agent</dt>
        <dd>{session.agent?.name ?? '—'}</dd>
        <dt>Counts</dt>
        <dd>
          {session.counts.statements} statements, {session.counts.blocked} blocked, {session.counts.reviews} reviewed,{' '}
          {bytes(session.counts.bytesOut)} to the client
        </dd>
        {masked.length ? (
          <>
            <dt>Masked cells</dt>
            <dd>{masked.map(([rule, n]) => `${rule}: ${String(n)}`).join(', ')}</dd>
          </>
        ) : null}
      </dl>
      {me?.role === 'admin' ? (
        <div className="actions admin">
          {live ? (
            <ConfirmButton
              label="Kill session"
              title="Kill this session?"
              confirmLabel="Kill session"
              reasonLabel="Reason (shown to the client)"
              onConfirm={async (reason) => {
                await api('POST', `/api/sessions/${session.id}/kill`, { reason });
                announce('Kill requested; the gateway is ending the session.');
                setTimeout(detail.reload, 1000);
              }}
            >
              <p>
                The client of {session.identity.name} is disconnected at once (SQLSTATE 57P01). The recording is kept
                and sealed.
              </p>
            </ConfirmButton>
          ) : null}
          <ConfirmButton
            label={`Block ${session.identity.name}`}
            title={`Block ${session.identity.name}?`}
            confirmLabel="Block identity"
            reasonLabel="Reason"
            onConfirm={async (reason) => {
              await api('POST', `/api/identities/${session.identity.id}/block`, { reason });
              announce(`${session.identity.name} is blocked.`);
              setTimeout(detail.reload, 1000);
            }}
          >
            <p>
              Every live session of {session.identity.name} ends on every gateway, its tokens stop working and its
              pending reviews are cancelled, until an admin unblocks it.
            </p>
          </ConfirmButton>
        </div>
      ) : null}
      {session.protocol === 'ssh' ? <Player sessionId={session.id} /> : null}
      <div className="tabs" role="tablist" aria-label="Recording view">
        <button role="tab" type="button" aria-selected={tab === 'timeline'} onClick={() => setTab('timeline')}>
          Statements and results
        </button>
        <button role="tab" type="button" aria-selected={tab === 'transcript'} onClick={() => setTab('transcript')}>
          Transcript
        </button>
      </div>
      {eventsError ? <ErrorBox error={eventsError} title="Could not load the recording" /> : null}
      {tab === 'timeline' ? (
        events.length ? (
          <Timeline events={events} startedAt={session.startedAt} />
        ) : (
          <p className="empty">
            {live
              ? 'Waiting for the first statement…'
              : eventsLoaded
                ? 'Nothing was recorded for this session.'
                : 'Loading the recording…'}
          </p>
        )
      ) : transcript === null ? (
        <Loading what="the transcript" />
      ) : (
        <pre className="transcript" data-testid="transcript" tabIndex={0}>
          {transcript || '(empty)'}
        </pre>
      )}
    </section>
  );
}
