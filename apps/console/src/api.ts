/**
 * The console's only way to the server: the public REST API on the same origin, with the caller's
 * token as a Bearer header. The token lives in sessionStorage (gone when the tab closes, never in a
 * cookie, so no CSRF surface) and is never logged or put in a URL.
 */
const TOKEN_KEY = 'warden.token';
/** Only after an SSO login: the single-use refresh token and when the access token expires. */
const REFRESH_KEY = 'warden.refresh';
const EXPIRES_KEY = 'warden.expiresAt';

export interface FieldError {
  field: string;
  message: string;
}

/** An API refusal with its status, message and per-field details (400s name `body.<field>`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: FieldError[] = [],
  ) {
    super(message);
  }

  /** Details keyed by field without the `body.` prefix (`config.host`, `rules.masking.columns.0`). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.details) {
      const key = d.field.replace(/^body\.?/, '');
      out[key] = out[key] ? `${out[key]}; ${d.message}` : d.message;
    }
    return out;
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** An API key (no refresh), or null to sign out. */
export function setToken(token: string | null): void {
  setTokens(token ? { accessToken: token } : null);
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;

/** Stores what a sign-in gave; with a refresh token, renews the access token before it expires. */
export function setTokens(tokens: { accessToken: string; refreshToken?: string; expiresIn?: number } | null): void {
  clearTimeout(refreshTimer);
  if (!tokens) {
    for (const key of [TOKEN_KEY, REFRESH_KEY, EXPIRES_KEY]) sessionStorage.removeItem(key);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, tokens.accessToken);
  if (tokens.refreshToken) sessionStorage.setItem(REFRESH_KEY, tokens.refreshToken);
  else sessionStorage.removeItem(REFRESH_KEY);
  if (tokens.refreshToken && tokens.expiresIn && tokens.expiresIn > 0) {
    sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + tokens.expiresIn * 1000));
    scheduleRefresh();
  } else sessionStorage.removeItem(EXPIRES_KEY);
}

/** Renew a minute before expiry (or at 80% of a short lifetime), at least 5 s from now. */
export function scheduleRefresh(): void {
  clearTimeout(refreshTimer);
  const expiresAt = Number(sessionStorage.getItem(EXPIRES_KEY));
  if (!expiresAt || !sessionStorage.getItem(REFRESH_KEY)) return;
  const left = expiresAt - Date.now();
  const delay = Math.max(5_000, Math.min(left - 60_000, left * 0.8));
  refreshTimer = setTimeout(() => void refreshAccessToken(), delay);
}

export function signedInWithSso(): boolean {
  return sessionStorage.getItem(REFRESH_KEY) !== null;
}

let refreshing: Promise<boolean> | null = null;

/**
 * Trades the refresh token for new tokens. Refresh tokens are single use (a reuse revokes the
 * sign-in), so concurrent callers share one request.
 */
export function refreshAccessToken(): Promise<boolean> {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (!res.ok) {
        sessionStorage.removeItem(REFRESH_KEY);
        return false;
      }
      const t = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
      setTokens({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresIn: t.expires_in });
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Ends an SSO sign-in on the server (its tokens stop working), then forgets the tokens. */
export async function logout(): Promise<void> {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  // Forget first: nothing may use these tokens while the server ends the sign-in.
  setTokens(null);
  if (refreshToken) {
    await fetch('/api/auth/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    }).catch(() => {});
  }
}

/** Fired when the API answers 401: the token expired, was revoked or the identity was blocked. */
export const UNAUTHORIZED_EVENT = 'warden:unauthorized';

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** fetch with the Bearer token; a 401 after an SSO sign-in is retried once with a refreshed token. */
async function authedFetch(
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Response> {
  const send = () => fetch(path, { ...init, headers: headers(init.headers ?? {}) });
  const res = await send();
  if (res.status === 401 && (await refreshAccessToken())) return send();
  return res;
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let details: FieldError[] = [];
  try {
    const body = (await res.json()) as { message?: string; details?: FieldError[] };
    if (body.message) message = body.message;
    if (Array.isArray(body.details)) details = body.details;
  } catch {
    /* not JSON */
  }
  if (res.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: message }));
  return new ApiError(res.status, message, details);
}

/** Calls the API and returns its JSON, or throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await authedFetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'the Warden API cannot be reached; check your network and try again');
  }
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** GET a text body (transcript, asciicast); `null` when the server answers 404. */
export async function apiText(path: string, signal?: AbortSignal): Promise<string | null> {
  const res = await authedFetch(path, { signal });
  if (res.status === 404) return null;
  if (!res.ok) throw await failure(res);
  return res.text();
}

export interface StreamEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Reads a Server-Sent Events response with fetch (EventSource cannot send the Authorization
 * header). Yields each event as it arrives; ends when the server closes the stream.
 */
export async function* streamEvents(path: string, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  const res = await authedFetch(path, { headers: { accept: 'text/event-stream' }, signal });
  if (!res.ok) throw await failure(res);
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer[end] === '\r' ? 4 : 2));
        const parsed = parseBlock(block);
        if (parsed) yield parsed;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseBlock(block: string): StreamEvent | null {
  let event = 'message';
  const data: string[] = [];
  let id: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (!data.length && event === 'message') return null;
  return { event, data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
}

/** Query string from the set values of `params` (empty ones left out). */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const s = search.toString();
  return s ? `?${s}` : '';
}
