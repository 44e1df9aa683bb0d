import { useId, useState } from 'react';
import { ApiError, api } from '../api';
import { age, until } from '../format';
import { useNow } from '../hooks';
import { Link } from '../router';
import type { Param, Review } from '../types';

function param(p: Param): string {
  if (p === null) return 'NULL';
  if (typeof p === 'string') return p;
  return `(binary, base64) ${p.binary}`;
}

/** Refusals worded for the person at the screen; anything else is the API's own message. */
function explain(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err);
  if (/requester cannot decide their own review/.test(err.message)) return 'You cannot approve your own request.';
  if (err.status === 409) return `This review was already decided or expired: ${err.message}`;
  return err.message;
}

/**
 * One review as an approver must see it: the statement exactly as it would run (whitespace kept),
 * its parameters, who asked, where, why and when; approve or deny with a comment when allowed.
 */
export function ReviewCard({ review, onDecided }: { review: Review; onDecided?: (outcome: string) => void }) {
  const now = useNow(15_000);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<null | 'approve' | 'deny'>(null);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const headingId = useId();
  const commentId = useId();

  const decide = async (decision: 'approve' | 'deny') => {
    setBusy(decision);
    setError(null);
    try {
      const res = await api<{ outcome: string; review: Review }>('POST', `/api/reviews/${review.id}/${decision}`, {
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      });
      const what =
        res.outcome === 'pending'
          ? `Your approval is recorded; ${res.review.requiredApprovals - res.review.approvals} more needed.`
          : `Review ${res.outcome}.`;
      setResult(what);
      onDecided?.(res.outcome);
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <article className="card review" aria-labelledby={headingId} data-review-id={review.id}>
      <header>
        <h2 id={headingId}>
          <Link to={`/reviews/${review.id}`}>
            {review.kind === 'access' ? 'Access request' : 'Statement'} on {review.connection.name}
          </Link>
        </h2>
        <span className={`badge status-${review.status}`}>{review.status}</span>
      </header>
      <dl className="facts">
        <dt>Asked by</dt>
        <dd>{review.requester.name}</dd>
        <dt>Connection</dt>
        <dd>{review.connection.name}</dd>
        <dt>Asked</dt>
        <dd>
          <time dateTime={review.createdAt} title={new Date(review.createdAt).toLocaleString()}>
            {age(review.createdAt, now)}
          </time>
          {review.status === 'pending' ? <>, expires {until(review.expiresAt, now)}</> : null}
        </dd>
        {review.rule ? (
          <>
            <dt>Rule</dt>
            <dd>{review.rule}</dd>
          </>
        ) : null}
        <dt>Approvals</dt>
        <dd>
          {review.approvals} of {review.requiredApprovals} (approvers: {review.approverGroups.join(', ') || '—'})
        </dd>
        {review.accessSeconds ? (
          <>
            <dt>Access for</dt>
            <dd>{Math.round(review.accessSeconds / 60)} min</dd>
          </>
        ) : null}
        <dt>Justification</dt>
        <dd className={review.justification ? '' : 'muted'}>{review.justification ?? 'none given'}</dd>
      </dl>
      {review.statement !== null ? (
        <>
          <h3 className="label">Statement, exactly as it would run</h3>
          <pre className="statement" data-testid="statement">
            {review.statement}
          </pre>
        </>
      ) : null}
      {review.parameters?.length ? (
        <>
          <h3 className="label">Parameters</h3>
          <ol className="params">
            {review.parameters.map((p, i) => (
              <li key={i}>
                <code>${i + 1}</code> = <pre className="inline">{param(p)}</pre>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      {review.decisions.length ? (
        <ul className="decisions">
          {review.decisions.map((d, i) => (
            <li key={i}>
              {d.by.name} {d.decision === 'approve' ? 'approved' : 'denied'} {age(d.at, now)}
              {d.comment ? `: “${d.comment}”` : ''}
            </li>
          ))}
        </ul>
      ) : null}
      {review.sessionId ? (
        <p>
          <Link to={`/sessions/${review.sessionId}`}>Open the session</Link>
        </p>
      ) : null}
      {result ? (
        <p className="ok" role="status">
          {result}
        </p>
      ) : review.canDecide ? (
        <form className="decide" onSubmit={(e) => e.preventDefault()}>
          <div className="field">
            <label htmlFor={commentId}>Comment (optional, shown to the requester)</label>
            <textarea
              id={commentId}
              rows={2}
              value={comment}
              maxLength={2000}
              onChange={(e) => setComment(e.target.value)}
            />
          </div>
          {error ? (
            <p className="error" role="alert">
              {error}
            </p>
          ) : null}
          <div className="actions">
            <button type="button" className="primary" disabled={busy !== null} onClick={() => void decide('approve')}>
              {busy === 'approve' ? 'Approving…' : 'Approve'}
            </button>
            <button type="button" className="danger" disabled={busy !== null} onClick={() => void decide('deny')}>
              {busy === 'deny' ? 'Denying…' : 'Deny'}
            </button>
          </div>
        </form>
      ) : error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
    </article>
  );
}
