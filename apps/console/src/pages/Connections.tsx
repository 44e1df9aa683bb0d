import { useAuth } from '../auth';
import { Empty, ErrorBox, Loading } from '../components/status';
import { useApi } from '../hooks';
import { Link } from '../router';
import type { Connection } from '../types';

function target(c: Connection): string {
  const cfg = c.config;
  if (c.type === 'http') return String(cfg.url ?? '');
  const port = cfg.port ? `:${String(cfg.port)}` : '';
  const db = c.type === 'postgres' ? `/${String(cfg.database ?? '')}` : '';
  return `${String(cfg.user ?? '')}@${String(cfg.host ?? '')}${port}${db}`;
}

/** Connections the caller may use (admins and auditors: all), with their agent's status. */
export function Connections() {
  const { me } = useAuth();
  const { data, error, loading, reload } = useApi<Connection[]>('/api/connections');
  return (
    <section aria-labelledby="connections-title">
      <div className="page-head">
        <h1 id="connections-title" tabIndex={-1}>
          Connections
        </h1>
        <div className="actions">
          <button type="button" onClick={reload}>
            Refresh status
          </button>
          {me?.role === 'admin' ? (
            <Link className="button primary" to="/connections/new">
              New connection
            </Link>
          ) : null}
        </div>
      </div>
      {error ? <ErrorBox error={error} title="Could not load connections" onRetry={reload} /> : null}
      {loading && !data ? <Loading what="connections" /> : null}
      {data && !data.length ? (
        <Empty>No connections yet.{me?.role === 'admin' ? ' Create one to put a target behind Warden.' : ''}</Empty>
      ) : null}
      {data?.length ? (
        <table className="list" aria-label="Connections">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Target (as the agent sees it)</th>
              <th scope="col">Agent</th>
              <th scope="col">Allowed groups</th>
              <th scope="col">Policies</th>
            </tr>
          </thead>
          <tbody>
            {data.map((c) => (
              <tr key={c.id}>
                <td data-label="Name">
                  <Link to={`/connections/${encodeURIComponent(c.name)}`}>{c.name}</Link>
                  {c.warnings.length ? (
                    <span className="badge status-pending" title={c.warnings.join('\n')}>
                      ⚠ privileged target role
                    </span>
                  ) : null}
                </td>
                <td data-label="Type">{c.type}</td>
                <td data-label="Target">
                  <code>{target(c)}</code>
                </td>
                <td data-label="Agent">
                  {c.agent.name}{' '}
                  <span className={`badge agent-${c.agent.status}`}>
                    {c.agent.status === 'online' ? '● online' : '○ offline'}
                  </span>
                </td>
                <td data-label="Allowed groups">
                  {c.allowedGroups.join(', ') || <span className="muted">admins only</span>}
                </td>
                <td data-label="Policies">
                  {c.policies.map((p) => p.name).join(', ') || <span className="muted">none</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
