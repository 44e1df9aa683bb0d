import { useCallback, useState } from 'react';
import { query } from '../api';
import { useAuth } from '../auth';
import { ReviewCard } from '../components/ReviewCard';
import { Empty, ErrorBox, Loading, useAnnounce } from '../components/status';
import { useApi, useEventStream } from '../hooks';
import { Link, navigate, useLocation } from '../router';
import type { Review } from '../types';

interface ReviewEvent {
  reviewId: string;
  status: string;
  by?: { name: string };
  review?: Review;
}

/**
 * The approvals inbox: pending reviews the caller may decide (admins and auditors can switch to
 * every pending review, read-only unless they are approvers). It re-reads the list whenever
 * /api/reviews/stream says something changed, and on every (re)connect, since nothing is replayed.
 */
export function Inbox() {
  const { me } = useAuth();
  const announce = useAnnounce();
  const { search } = useLocation();
  const canSeeAll = me?.role === 'admin' || me?.role === 'auditor';
  // Auditors decide nothing, so their useful view is everything pending.
  const asked = search.get('view');
  const view: 'decide' | 'all' | 'requests' =
    asked === 'requests'
      ? 'requests'
      : canSeeAll && (asked === 'all' || (me?.role === 'auditor' && asked !== 'mine'))
        ? 'all'
        : 'decide';
  const params = { decide: {}, all: { all: true, status: 'pending' }, requests: { mine: true, limit: 50 } }[view];
  const path = `/api/reviews${query(params)}`;
  const { data, error, loading, reload } = useApi<Review[]>(path);
  const [flash, setFlash] = useState<string | null>(null);

  const onEvent = useCallback(
    (e: { event: string; data: string }) => {
      if (e.event !== 'review.created' && e.event !== 'review.decided') return;
      let message: ReviewEvent | null = null;
      try {
        message = JSON.parse(e.data) as ReviewEvent;
      } catch {
        /* still reload */
      }
      reload();
      const r = message?.review;
      if (e.event === 'review.created' && r)
        announce(`New review: ${r.requester.name} on ${r.connection.name} is waiting for approval.`);
      if (e.event === 'review.decided' && message)
        announce(`A review was ${message.status}${message.by ? ` by ${message.by.name}` : ''}.`);
    },
    [reload, announce],
  );
  const state = useEventStream('/api/reviews/stream', onEvent, {
    // Nothing is replayed: whatever changed before the stream opened (or while it was down) is only
    // in the database, so re-read on every open, the first one included.
    onOpen: reload,
  });

  // Your own requests keep their history; the other views hold what is still pending.
  const shown = view === 'requests' ? (data ?? []) : (data ?? []).filter((r) => r.status === 'pending');
  return (
    <section aria-labelledby="inbox-title">
      <div className="page-head">
        <h1 id="inbox-title" tabIndex={-1}>
          Approvals
        </h1>
        <span className={`live live-${state}`} role="status">
          {state === 'open' ? 'Live' : state === 'error' ? 'Live updates unavailable' : 'Connecting…'}
        </span>
      </div>
      <div className="tabs" role="group" aria-label="Which reviews">
        <button type="button" aria-pressed={view === 'decide'} onClick={() => navigate('/?view=mine')}>
          Mine to decide
        </button>
        {canSeeAll ? (
          <button type="button" aria-pressed={view === 'all'} onClick={() => navigate('/?view=all')}>
            All pending
          </button>
        ) : null}
        <button type="button" aria-pressed={view === 'requests'} onClick={() => navigate('/?view=requests')}>
          My requests
        </button>
      </div>
      {me?.role === 'auditor' ? <p className="hint">Auditors see every review but cannot approve or deny.</p> : null}
      {flash ? (
        <p className="ok" role="status" data-testid="flash">
          {flash}
        </p>
      ) : null}
      {error ? <ErrorBox error={error} title="Could not load reviews" onRetry={reload} /> : null}
      {loading && !data ? <Loading what="reviews" /> : null}
      {data && !shown.length ? (
        view === 'requests' ? (
          <Empty>You have not asked for any review yet.</Empty>
        ) : (
          <Empty>
            Nothing waits for you. New requests appear here as they arrive. <Link to="/sessions">Browse sessions</Link>.
          </Empty>
        )
      ) : null}
      <div className="cards" aria-live="polite" aria-relevant="additions removals" data-testid="inbox">
        {shown.map((r) => (
          <ReviewCard
            key={r.id}
            review={r}
            onDecided={(outcome) => {
              setFlash(
                outcome === 'pending'
                  ? `Your approval of ${r.requester.name}'s request is recorded; more approvals are needed.`
                  : `${r.requester.name}'s request on ${r.connection.name} was ${outcome}.`,
              );
              reload();
            }}
          />
        ))}
      </div>
    </section>
  );
}
