/**
 * The console's only way to the server: the public REST API on the same origin, with the caller's
 * token as a Bearer header. The token lives in sessionStorage (gone when the tab closes, never in a
 * cookie, so no CSRF surface) and is never logged or put in a URL.
 */
const TOKEN_KEY = 'warden.token';

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

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Fired when the API answers 401: the token expired, was revoked or the identity was blocked. */
export const UNAUTHORIZED_EVENT = 'warden:unauthorized';

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
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
    res = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
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
  const res = await fetch(path, { headers: headers(), signal });
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
  const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
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
