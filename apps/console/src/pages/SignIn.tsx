import { useEffect, useId, useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import { useAuth } from '../auth';
import { ErrorBox } from '../components/status';

/** Whether the API offers OIDC sign-in; a 404 (an API without the endpoint) means no. */
async function oidcEnabled(): Promise<boolean> {
  try {
    const res = await fetch('/api/auth/config');
    if (!res.ok) return false;
    const body = (await res.json()) as { oidc?: { enabled?: boolean } };
    return body.oidc?.enabled === true;
  } catch {
    return false;
  }
}

/** Only a same-origin path may be a return target (never a full URL: no open redirect). */
function returnPath(): string {
  const here = window.location.pathname + window.location.search;
  return here.startsWith('/') && !here.startsWith('//') ? here : '/';
}

export function SignIn() {
  const { signIn, notice } = useAuth();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState(false);
  const keyId = useId();

  useEffect(() => {
    void oidcEnabled().then(setSso);
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!key.trim()) {
      setError('Paste an API key (it starts with wdn_).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? `That key was not accepted: ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err),
      );
      setBusy(false);
    }
  };

  return (
    <main className="signin" id="main">
      <h1>Sign in to Warden</h1>
      {notice ? <ErrorBox error={notice} /> : null}
      {sso ? (
        <p>
          <a className="button primary" href={`/api/auth/oidc/login?return_to=${encodeURIComponent(returnPath())}`}>
            Sign in with SSO
          </a>
        </p>
      ) : null}
      <form onSubmit={submit} noValidate>
        <div className={`field${error ? ' invalid' : ''}`}>
          <label htmlFor={keyId}>API key</label>
          <input
            id={keyId}
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={`${keyId}-hint${error ? ` ${keyId}-error` : ''}`}
          />
          <small id={`${keyId}-hint`} className="hint">
            Kept in this tab only (session storage) and sent as a Bearer token to this server.
          </small>
          {error ? (
            <small id={`${keyId}-error`} className="field-error" role="alert">
              {error}
            </small>
          ) : null}
        </div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in with API key'}
        </button>
      </form>
    </main>
  );
}
