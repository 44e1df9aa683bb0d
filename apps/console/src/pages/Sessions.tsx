import { useEffect, useId, useState, type FormEvent } from 'react';
import { api, ApiError, query } from '../api';
import { Empty, ErrorBox, Loading } from '../components/status';
import { dateTime, duration } from '../format';
import { Link, navigate, useLocation } from '../router';
import type { SessionItem } from '../types';

const FILTERS = ['q', 'identity', 'connection', 'status', 'blocked'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;
interface Page {
  items: SessionItem[];
  nextBefore: string | null;
}

/** Sessions, newest first, filtered by what the URL says (so a filtered view can be shared). */
export function Sessions() {
  const { search } = useLocation();
  const applied = Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ''])) as Filters;
  const [draft, setDraft] = useState<Filters>(applied);
  const [items, setItems] = useState<SessionItem[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [version, setVersion] = useState(0);
  const key = search.toString();
  const ids = { q: useId(), identity: useId(), connection: useId(), status: useId(), blocked: useId() };

  useEffect(() => {
    setDraft(applied);
    const abort = new AbortController();
    setError(null);
    api<Page>('GET', `/api/sessions${query({ ...applied, limit: 50 })}`, undefined, abort.signal)
      .then((p) => {
        setItems(p.items);
        setNext(p.nextBefore);
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') setError(e as ApiError);
      });
    return () => abort.abort();
  }, [key, version]);

  const more = async () => {
    if (!next) return;
    try {
      const p = await api<Page>('GET', `/api/sessions${query({ ...applied, limit: 50, before: next })}`);
      setItems((cur) => [...(cur ?? []), ...p.items]);
      setNext(p.nextBefore);
    } catch (e) {
      setError(e as ApiError);
    }
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/sessions${query(draft)}`);
  };
  const set = (f: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [f]: e.target.value });

  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title" tabIndex={-1}>
        Sessions
      </h1>
      <form className="filters" role="search" aria-label="Filter sessions" onSubmit={submit}>
        <div className="field wide">
          <label htmlFor={ids.q}>Statements containing</label>
          <input id={ids.q} type="search" value={draft.q} onChange={set('q')} placeholder="e.g. delete customers" />
        </div>
        <div className="field">
          <label htmlFor={ids.identity}>Identity</label>
          <input id={ids.identity} value={draft.identity} onChange={set('identity')} />
        </div>
        <div className="field">
          <label htmlFor={ids.connection}>Connection</label>
          <input id={ids.connection} value={draft.connection} onChange={set('connection')} />
        </div>
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select id={ids.status} value={draft.status} onChange={set('status')}>
            <option value="">any</option>
            {['active', 'closed', 'interrupted', 'killed', 'failed'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.blocked}>Blocked statements</label>
          <select id={ids.blocked} value={draft.blocked} onChange={set('blocked')}>
            <option value="">either</option>
            <option value="true">some blocked</option>
            <option value="false">none blocked</option>
          </select>
        </div>
        <div className="actions">
          <button type="submit" className="primary">
            Search
          </button>
          <button type="button" onClick={() => setVersion((v) => v + 1)}>
            Refresh
          </button>
        </div>
      </form>
      {error ? (
        <ErrorBox error={error} title="Could not load sessions" onRetry={() => setVersion((v) => v + 1)} />
      ) : null}
      {!items && !error ? <Loading what="sessions" /> : null}
      {items && !items.length ? (
        <Empty>{key ? 'No session matches these filters.' : 'No sessions recorded yet.'}</Empty>
      ) : null}
      {items?.length ? (
        <table className="list" aria-label="Sessions">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Identity</th>
              <th scope="col">Connection</th>
              <th scope="col">Status</th>
              <th scope="col">Statements</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id}>
                <td data-label="Started">
                  <Link to={`/sessions/${s.id}`}>{dateTime(s.startedAt)}</Link>
                </td>
                <td data-label="Identity">{s.identity.name}</td>
                <td data-label="Connection">
                  {s.connection.name} <small className="muted">{s.protocol}</small>
                </td>
                <td data-label="Status">
                  <span className={`badge status-${s.status}`}>{s.status === 'active' ? '● live' : s.status}</span>
                </td>
                <td data-label="Statements">
                  {s.counts.statements}
                  {s.counts.blocked ? <span className="badge status-denied">{s.counts.blocked} blocked</span> : null}
                  {s.counts.reviews ? <span className="badge">{s.counts.reviews} reviewed</span> : null}
                </td>
                <td data-label="Duration">{duration(s.startedAt, s.endedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {next ? (
        <button type="button" onClick={() => void more()}>
          Load older sessions
        </button>
      ) : null}
    </section>
  );
}
