import type { RecordedEvent } from '../types';

type Cell = string | null | { b64: string };
type Decision =
  { action: 'allow' } | { action: 'block'; rule: string; message: string } | { action: 'review'; rule: string };

const MAX_ROWS = 100;

function cell(c: Cell): string {
  if (c === null) return 'NULL';
  if (typeof c === 'string') return c;
  return `\\x(base64) ${c.b64}`;
}

function DecisionBadge({ decision }: { decision: Decision | undefined }) {
  if (!decision) return null;
  if (decision.action === 'allow') return <span className="badge status-approved">allowed</span>;
  if (decision.action === 'block')
    return (
      <span className="badge status-denied" title={decision.message}>
        blocked by {decision.rule}
      </span>
    );
  return <span className="badge status-pending">held for review ({decision.rule})</span>;
}

function offset(t: string, start: number): string {
  return `+${((Date.parse(t) - start) / 1000).toFixed(3)} s`;
}

function Result({ p }: { p: Record<string, unknown> }) {
  const columns = (p.columns as { name: string }[] | undefined) ?? [];
  const rows = (p.rows as Cell[][] | undefined) ?? [];
  return (
    <div className="result">
      {columns.length ? (
        <div className="scroll">
          <table className="grid">
            <thead>
              <tr>
                {columns.map((c, i) => (
                  <th key={i} scope="col">
                    {c.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, MAX_ROWS).map((r, i) => (
                <tr key={i}>
                  {r.map((c, j) => (
                    <td key={j} className={c === null ? 'muted' : ''}>
                      {cell(c)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <p className="meta">
        {[
          String(p.tag ?? ''),
          columns.length ? `${Number(p.rowCount ?? 0)} row${p.rowCount === 1 ? '' : 's'}` : null,
          rows.length > MAX_ROWS || p.truncated ? `showing ${Math.min(rows.length, MAX_ROWS)}` : null,
          `${Number(p.ms ?? 0).toFixed(1)} ms`,
        ]
          .filter(Boolean)
          .join(' · ')}
      </p>
    </div>
  );
}

/** One recorded event, rendered for a reader: statements with decisions, results as recorded (already masked). */
function Entry({ e, start }: { e: RecordedEvent; start: number }) {
  const p = e.payload;
  const when = (
    <time className="t" dateTime={e.t} title={new Date(e.t).toLocaleString()}>
      {offset(e.t, start)}
    </time>
  );
  switch (e.kind) {
    case 'query':
    case 'prepare':
    case 'execute': {
      const params = (p.params as Cell[] | undefined) ?? [];
      return (
        <li className="ev statement">
          {when}
          <div>
            <div className="head">
              <span className="kind">{e.kind === 'prepare' ? `prepare ${String(p.name ?? '')}` : e.kind}</span>
              <DecisionBadge decision={p.decision as Decision | undefined} />
            </div>
            <pre className="statement">{String(p.text ?? '')}</pre>
            {params.length ? (
              <p className="meta">parameters: {params.map((c, i) => `$${i + 1} = ${cell(c)}`).join(', ')}</p>
            ) : null}
          </div>
        </li>
      );
    }
    case 'result':
      return (
        <li className="ev">
          {when}
          <Result p={p} />
        </li>
      );
    case 'error':
      return (
        <li className="ev">
          {when}
          <p className="error-line">
            ERROR {String(p.code ?? '')}: {String(p.message ?? '')}
            {p.detail ? ` — ${String(p.detail)}` : ''}
          </p>
        </li>
      );
    case 'review.requested':
      return (
        <li className="ev">
          {when}
          <p>
            Held for review by rule {String(p.rule)} (approvers: {((p.approverGroups as string[]) ?? []).join(', ')})
          </p>
        </li>
      );
    case 'review.decided': {
      const by = p.by as { name: string } | undefined;
      return (
        <li className="ev">
          {when}
          <p>
            Review <span className={`badge status-${String(p.status)}`}>{String(p.status)}</span>
            {by ? ` by ${by.name}` : ''}
            {p.comment ? `: “${String(p.comment)}”` : ''}
          </p>
        </li>
      );
    }
    case 'session.start': {
      const identity = p.identity as { name: string } | undefined;
      return (
        <li className="ev sys">
          {when}
          <p>
            Session started by {identity?.name ?? '?'} from {String(p.clientAddr ?? 'unknown')}
            {p.protocol === 'ssh' ? ' over SSH' : p.clientTls ? ' over TLS' : ''}
          </p>
        </li>
      );
    }
    case 'session.end':
      return (
        <li className="ev sys">
          {when}
          <p>
            Session ended: {String(p.status)} ({String(p.reason)})
          </p>
        </li>
      );
    case 'ssh.exec':
      return (
        <li className="ev statement">
          {when}
          <div>
            <div className="head">
              <span className="kind">exec (channel {String(p.channel)})</span>
              <DecisionBadge decision={p.decision as Decision | undefined} />
            </div>
            <pre className="statement">{String(p.text ?? '')}</pre>
          </div>
        </li>
      );
    case 'ssh.shell':
      return (
        <li className="ev sys">
          {when}
          <p>Interactive shell opened (channel {String(p.channel)})</p>
        </li>
      );
    case 'ssh.data':
      return (
        <li className={`ev${p.stream === 'stdin' ? ' sys' : ''}`}>
          {when}
          <pre className={`output${p.stream === 'stderr' ? ' error-line' : ''}`}>{String(p.data ?? '')}</pre>
        </li>
      );
    case 'ssh.exit':
      return (
        <li className="ev sys">
          {when}
          <p>
            Channel {String(p.channel)} exited{' '}
            {p.code !== null && p.code !== undefined ? `with status ${String(p.code)}` : `on ${String(p.signal)}`}
          </p>
        </li>
      );
    case 'ssh.refused':
      return (
        <li className="ev">
          {when}
          <p className="error-line">
            Refused {String(p.request)}: {String(p.reason)}
          </p>
        </li>
      );
    case 'notice':
      return (
        <li className="ev sys">
          {when}
          <p>NOTICE: {String(p.message ?? '')}</p>
        </li>
      );
    default:
      return (
        <li className="ev sys">
          {when}
          <p>
            <span className="kind">{e.kind}</span> <code className="small">{JSON.stringify(p).slice(0, 300)}</code>
          </p>
        </li>
      );
  }
}

export function Timeline({ events, startedAt }: { events: RecordedEvent[]; startedAt: string }) {
  const start = Date.parse(startedAt);
  return (
    <ol className="timeline" aria-label="Recorded events" data-testid="timeline">
      {events.map((e) => (
        <Entry key={e.seq} e={e} start={start} />
      ))}
    </ol>
  );
}
