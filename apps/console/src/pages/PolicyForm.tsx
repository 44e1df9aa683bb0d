import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api';
import { useAuth } from '../auth';
import { Field } from '../components/field';
import { ErrorBox, Loading } from '../components/status';
import { useApi } from '../hooks';
import { Link, navigate } from '../router';
import type { Connection, Policy } from '../types';

type Kind = Policy['kind'];

/** A starting point per kind (packages/policy/README.md has every option). */
const TEMPLATES: Record<Kind, unknown> = {
  guardrail: { guardrails: [{ type: 'deny_kinds', name: 'no-drop', kinds: ['drop*'] }] },
  masking: {
    masking: {
      columns: [{ column: 'public.customers.email', strategy: 'domain' }],
      detectors: [{ detector: 'credit_card', strategy: 'last4' }],
    },
  },
  review: {
    reviews: [
      {
        type: 'require_review',
        name: 'deletes',
        match: { kinds: ['delete'] },
        approverGroups: ['dba'],
        timeoutSeconds: 600,
      },
    ],
  },
};

/** Create or edit a policy; rules are JSON, checked by the API against the policy engine's schemas. */
export function PolicyForm({ ref_ }: { ref_?: string }) {
  const { me } = useAuth();
  const editing = ref_ !== undefined;
  const existing = useApi<Policy>(editing ? `/api/policies/${encodeURIComponent(ref_)}` : null);
  const connections = useApi<Connection[]>('/api/connections');
  const [name, setName] = useState('');
  const [kind, setKind] = useState<Kind>('guardrail');
  const [description, setDescription] = useState('');
  const [enabled, setEnabled] = useState(true);
  const [rules, setRules] = useState(JSON.stringify(TEMPLATES.guardrail, null, 2));
  const [attached, setAttached] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const readOnly = me?.role !== 'admin';

  // After a refused save, put the keyboard on the first field the API named.
  useEffect(() => {
    if (Object.keys(errors).length) document.querySelector<HTMLElement>('form [aria-invalid="true"]')?.focus();
  }, [errors]);

  useEffect(() => {
    const p = existing.data;
    if (!p) return;
    setName(p.name);
    setKind(p.kind);
    setDescription(p.description ?? '');
    setEnabled(p.enabled);
    setRules(JSON.stringify(p.rules, null, 2));
    setAttached(p.connections.map((c) => c.name));
  }, [existing.data]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    setSaved(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(rules);
    } catch (err) {
      setErrors({ rules: `not valid JSON: ${(err as Error).message}` });
      return;
    }
    setBusy(true);
    const body = {
      name: name.trim(),
      ...(editing ? {} : { kind }),
      description: description.trim(),
      enabled,
      rules: parsed,
      connections: attached,
    };
    try {
      const res = editing
        ? await api<Policy>('PATCH', `/api/policies/${encodeURIComponent(ref_)}`, body)
        : await api<Policy>('POST', '/api/policies', body);
      setSaved(`Policy ${res.name} saved (version ${res.version}).`);
      if (!editing || res.name !== ref_) navigate(`/policies/${encodeURIComponent(res.name)}`, { replace: true });
      else existing.reload();
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError(0, String(err));
      setErrors(apiErr.fieldErrors());
      setFormError(apiErr.details.length ? `${apiErr.message}: see the fields marked below.` : apiErr.message);
    } finally {
      setBusy(false);
    }
  };

  if (editing && existing.error) return <ErrorBox error={existing.error} title="Could not load the policy" />;
  if (editing && !existing.data) return <Loading what="the policy" />;
  // Rule problems arrive as body.rules.<path>: list each under the editor with its path.
  const ruleErrors = Object.entries(errors).filter(([k]) => k === 'rules' || k.startsWith('rules.'));
  const ruleMessage = ruleErrors.map(([k, v]) => (k === 'rules' ? v : `${k.slice(6)}: ${v}`)).join('\n') || undefined;

  return (
    <section aria-labelledby="policy-title">
      <p>
        <Link to="/policies">← Policies</Link>
      </p>
      <h1 id="policy-title" tabIndex={-1}>
        {editing ? `Policy ${existing.data?.name}` : 'New policy'}
      </h1>
      {formError ? <ErrorBox error={formError} title="Not saved" /> : null}
      {saved ? (
        <p className="ok" role="status">
          {saved}
        </p>
      ) : null}
      <form onSubmit={submit} noValidate className="form">
        <fieldset disabled={readOnly}>
          <Field label="Name" error={errors.name}>
            {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Kind" error={errors.kind}>
            {(p) => (
              <select
                {...p}
                value={kind}
                disabled={editing}
                onChange={(e) => {
                  const k = e.target.value as Kind;
                  setKind(k);
                  setRules(JSON.stringify(TEMPLATES[k], null, 2));
                }}
              >
                <option value="guardrail">guardrail (block statements)</option>
                <option value="masking">masking (hide values)</option>
                <option value="review">review (hold for approval)</option>
              </select>
            )}
          </Field>
          <Field label="Description" error={errors.description}>
            {(p) => <input {...p} value={description} onChange={(e) => setDescription(e.target.value)} />}
          </Field>
          <label className="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
          </label>
          <Field label="Rules (JSON)" error={ruleMessage} hint="Checked by the policy engine when you save.">
            {(p) => (
              <textarea
                {...p}
                className="code"
                rows={14}
                spellCheck={false}
                value={rules}
                onChange={(e) => setRules(e.target.value)}
              />
            )}
          </Field>
          <fieldset className="group">
            <legend>Connections</legend>
            {connections.data?.length ? null : <small className="hint">No connections yet.</small>}
            {connections.data?.map((c) => (
              <label key={c.id} className="check">
                <input
                  type="checkbox"
                  checked={attached.includes(c.name)}
                  onChange={(e) =>
                    setAttached(e.target.checked ? [...attached, c.name] : attached.filter((n) => n !== c.name))
                  }
                />{' '}
                {c.name}
              </label>
            ))}
            {errors.connections ? <small className="field-error">{errors.connections}</small> : null}
          </fieldset>
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : editing ? 'Save changes' : 'Create policy'}
            </button>
          </div>
        </fieldset>
        {readOnly ? <p className="hint">Only admins change policies.</p> : null}
      </form>
    </section>
  );
}
