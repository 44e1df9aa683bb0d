import { useAuth } from '../auth';
import { Empty, ErrorBox, Loading } from '../components/status';
import { useApi } from '../hooks';
import { Link } from '../router';
import type { Policy } from '../types';

export function Policies() {
  const { me } = useAuth();
  const { data, error, loading, reload } = useApi<Policy[]>('/api/policies');
  return (
    <section aria-labelledby="policies-title">
      <div className="page-head">
        <h1 id="policies-title" tabIndex={-1}>
          Policies
        </h1>
        {me?.role === 'admin' ? (
          <Link className="button primary" to="/policies/new">
            New policy
          </Link>
        ) : null}
      </div>
      <p className="hint">
        Guardrails block statements, masking rules hide values before they leave the agent, review rules hold statements
        for approval.
      </p>
      {error ? <ErrorBox error={error} title="Could not load policies" onRetry={reload} /> : null}
      {loading && !data ? <Loading what="policies" /> : null}
      {data && !data.length ? <Empty>No policies yet.</Empty> : null}
      {data?.length ? (
        <table className="list" aria-label="Policies">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Enabled</th>
              <th scope="col">Connections</th>
              <th scope="col">Version</th>
            </tr>
          </thead>
          <tbody>
            {data.map((p) => (
              <tr key={p.id}>
                <td data-label="Name">
                  <Link to={`/policies/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                  {p.description ? <small className="muted block">{p.description}</small> : null}
                </td>
                <td data-label="Kind">{p.kind}</td>
                <td data-label="Enabled">{p.enabled ? 'yes' : 'no'}</td>
                <td data-label="Connections">
                  {p.connections.map((c) => c.name).join(', ') || <span className="muted">none</span>}
                </td>
                <td data-label="Version">{p.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
