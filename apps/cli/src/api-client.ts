/** Where the API is when WARDEN_URL is not set: the all-in-one `warden` process's default port. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8009';

/** A failed API call, with a message that says what to do about it. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  accept?: string;
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** What the resource is, for a 404 ("session 123"). */
  what?: string;
}

/**
 * The Warden REST API as the CLI sees it: a base URL, a bearer token, and errors
 * turned into sentences. Commands that need the API (export, later login/whoami/
 * connect/token) share this.
 */
export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch = fetch,
    /** Where the token came from, for error messages ("WARDEN_TOKEN", "your saved login"). */
    private readonly tokenSource = 'WARDEN_TOKEN',
  ) {
    // Keep any path prefix (a reverse proxy may serve the API under /warden/).
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  static fromEnv(env: Record<string, string | undefined>, fetchImpl: typeof fetch = fetch): ApiClient {
    return new ApiClient(env.WARDEN_URL || DEFAULT_API_URL, env.WARDEN_TOKEN || undefined, fetchImpl);
  }

  /** The JSONL export of a session (see @warden/recording's export format). */
  exportSession(sessionId: string): Promise<string> {
    return this.getText(`/api/sessions/${encodeURIComponent(sessionId)}/export`, {
      accept: 'application/x-ndjson',
      what: `session ${sessionId}`,
    });
  }

  /** A JSON call (GET, or POST with options.body); the parsed body, or null for 204. */
  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(path, options);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  async getText(path: string, options: RequestOptions = {}): Promise<string> {
    const response = await this.request(path, options);
    return response.text();
  }

  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, body });
    } catch (err) {
      throw new ApiError(unreachable(this.baseUrl, err));
    }
    if (response.ok) return response;
    const message = await serverMessage(response);
    throw new ApiError(this.describe(response, message, options), response.status);
  }

  private describe(response: Response, message: string | undefined, options: RequestOptions): string {
    const because = message ? `: ${message}` : '';
    switch (response.status) {
      case 401:
        return this.token
          ? `the API at ${this.baseUrl} rejected ${this.tokenSource} (401${because}); it may be expired or revoked`
          : `not authenticated: set WARDEN_TOKEN to an API token for ${this.baseUrl}, or run \`warden login\``;
      case 403:
        return `forbidden (403${because}): the identity behind ${this.tokenSource} may not read ${options.what ?? 'this'}`;
      case 404:
        return options.what ? `${options.what} not found (404)` : `not found (404${because})`;
      default:
        return `the API answered ${response.status} ${response.statusText}${because}`;
    }
  }
}

function unreachable(baseUrl: string, err: unknown): string {
  // fetch reports network failures as TypeError('fetch failed') with the socket error as cause.
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  const hint = 'is it running? Set WARDEN_URL to its address.';
  if (code === 'ECONNREFUSED') return `cannot reach the Warden API at ${baseUrl}: connection refused; ${hint}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of WARDEN_URL (${baseUrl})`;
  return `cannot reach the Warden API at ${baseUrl}: ${cause?.message ?? (err as Error).message}; ${hint}`;
}

/** The `message` of the API's JSON error body, if it sent one. */
async function serverMessage(response: Response): Promise<string | undefined> {
  try {
    const text = await response.text();
    const body = JSON.parse(text) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}
