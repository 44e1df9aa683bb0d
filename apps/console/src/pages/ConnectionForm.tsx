import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api';
import { useAuth } from '../auth';
import { Field } from '../components/field';
import { ErrorBox, Loading } from '../components/status';
import { useApi } from '../hooks';
import { Link, navigate } from '../router';
import type { Connection, Policy } from '../types';

type Kind = Connection['type'];

interface ConfigField {
  key: string;
  label: string;
  type?: 'number' | 'secret' | 'select' | 'textarea';
  options?: string[];
  hint?: string;
}

/** The target settings per type, as the API's connection schema defines them. */
const CONFIG_FIELDS: Record<Kind, ConfigField[]> = {
  postgres: [
    { key: 'host', label: 'Host', hint: 'as the agent sees it' },
    { key: 'port', label: 'Port', type: 'number', hint: 'default 5432' },
    { key: 'database', label: 'Database' },
    { key: 'user', label: 'User' },
    { key: 'password', label: 'Password', type: 'secret' },
    { key: 'sslmode', label: 'SSL mode', type: 'select', options: ['prefer', 'disable', 'require', 'verify-full'] },
  ],
  ssh: [
    { key: 'host', label: 'Host', hint: 'as the agent sees it' },
    { key: 'port', label: 'Port', type: 'number', hint: 'default 22' },
    { key: 'user', label: 'User' },
    { key: 'password', label: 'Password', type: 'secret' },
    { key: 'privateKey', label: 'Private key', type: 'secret' },
    { key: 'hostKeyFingerprint', label: 'Host key fingerprint', hint: 'SHA256:… as printed by ssh-keygen -lf' },
  ],
  http: [
    { key: 'url', label: 'URL', hint: 'http:// or https://' },
    { key: 'authorization', label: 'Authorization header', type: 'secret' },
  ],
};

const SECRET_HINT =
  'Write-only. env:NAME or file:/path is resolved by the agent; anything else is stored encrypted. Leave empty to keep the current value.';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Create (no ref) or edit a connection; the API's 400 field details appear beside each field. */
export function ConnectionForm({ ref_ }: { ref_?: string }) {
  const { me } = useAuth();
  const editing = ref_ !== undefined;
  const existing = useApi<Connection>(editing ? `/api/connections/${encodeURIComponent(ref_)}` : null);
  const agents = useApi<{ id: string; name: string; status: string }[]>(me?.role === 'admin' ? '/api/agents' : null);
  const policies = useApi<Policy[]>('/api/policies');
  const [name, setName] = useState('');
  const [type, setType] = useState<Kind>('postgres');
  const [agent, setAgent] = useState('');
  const [description, setDescription] = useState('');
  const [config, setConfig] = useState<Record<string, string>>({});
  const [groups, setGroups] = useState('');
  const [attached, setAttached] = useState<string[] | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const readOnly = me?.role !== 'admin';

  // After a refused save, put the keyboard on the first field the API named.
  useEffect(() => {
    if (Object.keys(errors).length) document.querySelector<HTMLElement>('form [aria-invalid="true"]')?.focus();
  }, [errors]);

  useEffect(() => {
    const c = existing.data;
    if (!c) return;
    setName(c.name);
    setType(c.type);
    setAgent(c.agent.name);
    setDescription(c.description ?? '');
    setConfig(Object.fromEntries(Object.entries(c.config).map(([k, v]) => [k, v === null ? '' : String(v)])));
    setGroups(c.allowedGroups.join(', '));
    setAttached(c.policies.map((p) => p.name));
  }, [existing.data]);

  useEffect(() => {
    if (!agent && agents.data?.length) setAgent(agents.data[0]!.name);
  }, [agents.data, agent]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    setSaved(null);
    const cfg: Record<string, unknown> = {};
    for (const f of CONFIG_FIELDS[type]) {
      const v = config[f.key]?.trim() ?? '';
      if (v === '') {
        // PATCH merges config: a setting emptied in the form is removed with null. An empty
        // secret field means "keep it" (secrets are write-only and never shown).
        if (editing && f.type !== 'secret' && existing.data?.config[f.key] !== undefined) cfg[f.key] = null;
        continue;
      }
      cfg[f.key] = f.type === 'number' && /^\d+$/.test(v) ? Number(v) : v;
    }
    const body: Record<string, unknown> = {
      name: name.trim(),
      type,
      agent,
      config: cfg,
      allowedGroups: list(groups),
      ...(description.trim() ? { description: description.trim() } : editing ? { description: null } : {}),
      ...(attached !== null ? { policies: attached } : {}),
    };
    try {
      const res = editing
        ? await api<Connection>('PATCH', `/api/connections/${encodeURIComponent(ref_)}`, body)
        : await api<Connection>('POST', '/api/connections', body);
      setSaved(`Connection ${res.name} saved.`);
      if (!editing || res.name !== ref_) navigate(`/connections/${encodeURIComponent(res.name)}`, { replace: true });
      else existing.reload();
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError(0, String(err));
      setErrors(apiErr.fieldErrors());
      setFormError(apiErr);
    } finally {
      setBusy(false);
    }
  };

  if (editing && existing.error) return <ErrorBox error={existing.error} title="Could not load the connection" />;
  if (editing && !existing.data) return <Loading what="the connection" />;
  const status = existing.data?.agent.status ?? agents.data?.find((a) => a.name === agent)?.status;
  const unplaced = Object.keys(errors).filter(
    (k) =>
      !['name', 'type', 'agent', 'description', 'allowedGroups', 'policies'].includes(k) && !k.startsWith('config.'),
  );
  const configError = (key: string) =>
    Object.entries(errors)
      .filter(([k]) => k === `config.${key}` || k.startsWith(`config.${key}.`))
      .map(([, v]) => v)
      .join('; ') || undefined;

  return (
    <section aria-labelledby="connection-title">
      <p>
        <Link to="/connections">← Connections</Link>
      </p>
      <h1 id="connection-title" tabIndex={-1}>
        {editing ? `Connection ${existing.data?.name}` : 'New connection'}
      </h1>
      {editing ? (
        <div className={`test-result ${status === 'online' ? 'ok' : 'warn'}`} role="status" data-testid="agent-status">
          {status === 'online'
            ? `Agent ${existing.data?.agent.name} is online: sessions to this connection can be opened through it.`
            : `Agent ${existing.data?.agent.name} is offline: sessions to this connection fail with 08006 until it dials in.`}{' '}
          <button type="button" className="link" onClick={existing.reload}>
            Test again
          </button>
        </div>
      ) : null}
      {editing && existing.data?.warnings.length ? (
        <ul className="test-result warn" role="note" aria-label="Warnings" data-testid="connection-warnings">
          {existing.data.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}
      {formError ? (
        <ErrorBox
          error={formError.details.length ? `${formError.message}: see the fields marked below.` : formError.message}
          title="Not saved"
        />
      ) : null}
      {unplaced.length ? (
        <ul className="error">
          {unplaced.map((k) => (
            <li key={k}>
              {k}: {errors[k]}
            </li>
          ))}
        </ul>
      ) : null}
      {saved ? (
        <p className="ok" role="status">
          {saved}
        </p>
      ) : null}
      <form onSubmit={submit} noValidate className="form">
        <fieldset disabled={readOnly}>
          <Field label="Name" error={errors.name} hint="Clients pick it as the database name: postgres://…/<name>">
            {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}
          </Field>
          <Field label="Type" error={errors.type}>
            {(p) => (
              <select {...p} value={type} onChange={(e) => setType(e.target.value as Kind)} disabled={editing}>
                <option value="postgres">postgres</option>
                <option value="ssh">ssh</option>
                <option value="http">http</option>
              </select>
            )}
          </Field>
          <Field label="Agent" error={errors.agent} hint={status ? `currently ${status}` : undefined}>
            {(p) =>
              agents.data ? (
                <select {...p} value={agent} onChange={(e) => setAgent(e.target.value)}>
                  {agents.data.map((a) => (
                    <option key={a.id} value={a.name}>
                      {a.name} ({a.status})
                    </option>
                  ))}
                </select>
              ) : (
                <input {...p} value={agent} onChange={(e) => setAgent(e.target.value)} />
              )
            }
          </Field>
          <Field label="Description" error={errors.description}>
            {(p) => <input {...p} value={description} onChange={(e) => setDescription(e.target.value)} />}
          </Field>
          <fieldset className="group">
            <legend>Target ({type})</legend>
            {CONFIG_FIELDS[type].map((f) => {
              const stored = existing.data?.secrets[f.key];
              const hint =
                f.type === 'secret'
                  ? `${SECRET_HINT}${stored ? ` Now: ${stored.source}${stored.ref ? ` ${stored.ref}` : ''}.` : ''}`
                  : f.hint;
              return (
                <Field key={f.key} label={f.label} error={configError(f.key)} hint={hint}>
                  {(p) =>
                    f.type === 'select' ? (
                      <select
                        {...p}
                        value={config[f.key] ?? ''}
                        onChange={(e) => setConfig({ ...config, [f.key]: e.target.value })}
                      >
                        <option value="">(default)</option>
                        {f.options!.map((o) => (
                          <option key={o}>{o}</option>
                        ))}
                      </select>
                    ) : (
                      <input
                        {...p}
                        type={f.type === 'secret' ? 'password' : 'text'}
                        inputMode={f.type === 'number' ? 'numeric' : undefined}
                        autoComplete="off"
                        value={config[f.key] ?? ''}
                        onChange={(e) => setConfig({ ...config, [f.key]: e.target.value })}
                      />
                    )
                  }
                </Field>
              );
            })}
          </fieldset>
          <Field label="Allowed groups" error={errors.allowedGroups} hint="Comma-separated; admins may always connect.">
            {(p) => <input {...p} value={groups} onChange={(e) => setGroups(e.target.value)} />}
          </Field>
          <fieldset className="group" aria-describedby="policies-hint">
            <legend>Policies</legend>
            <small id="policies-hint" className="hint">
              {editing || attached !== null
                ? 'The policies attached to this connection.'
                : 'Left untouched, a new connection gets the default rule pack (default-guardrails, default-masking).'}
            </small>
            {policies.data?.map((p) => (
              <label key={p.id} className="check">
                <input
                  type="checkbox"
                  checked={attached?.includes(p.name) ?? false}
                  onChange={(e) => {
                    const cur = attached ?? [];
                    setAttached(e.target.checked ? [...cur, p.name] : cur.filter((n) => n !== p.name));
                  }}
                />{' '}
                {p.name} <small className="muted">{p.kind}</small>
              </label>
            ))}
            {errors.policies ? <small className="field-error">{errors.policies}</small> : null}
          </fieldset>
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : editing ? 'Save changes' : 'Create connection'}
            </button>
          </div>
        </fieldset>
        {readOnly ? <p className="hint">Only admins change connections.</p> : null}
      </form>
    </section>
  );
}
