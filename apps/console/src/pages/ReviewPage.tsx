import { useCallback } from 'react';
import { ReviewCard } from '../components/ReviewCard';
import { ErrorBox, Loading } from '../components/status';
import { useApi, useEventStream } from '../hooks';
import { Link } from '../router';
import type { Review } from '../types';

/** One review (the link in the client's NOTICE and in notifications points here). */
export function ReviewPage({ id }: { id: string }) {
  const { data, error, reload } = useApi<Review>(`/api/reviews/${encodeURIComponent(id)}`);
  const onEvent = useCallback(
    (e: { event: string; data: string }) => {
      if (e.event.startsWith('review.') && e.data.includes(id)) reload();
    },
    [id, reload],
  );
  useEventStream('/api/reviews/stream', onEvent);
  return (
    <section>
      <p>
        <Link to="/">← Approvals</Link>
      </p>
      <h1 tabIndex={-1}>Review</h1>
      {error ? <ErrorBox error={error} title="Could not load the review" /> : null}
      {!data && !error ? <Loading what="the review" /> : null}
      {data ? (
        <>
          {!data.canDecide && data.status === 'pending' ? (
            <p className="hint">
              You cannot decide this review (you asked for it, or you are not one of its approvers).
            </p>
          ) : null}
          <ReviewCard review={data} onDecided={reload} />
        </>
      ) : null}
    </section>
  );
}
