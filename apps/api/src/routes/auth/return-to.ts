import type { TokenResponse } from '@warden/access';

/**
 * Where a finished login goes. Only two kinds of destination are accepted, so the
 * login endpoint can never be used to send tokens to someone else's site:
 * - `browser`: a path on this origin (the web console), tokens in the URL fragment;
 * - `loopback`: `http://127.0.0.1:<port>/...` or `http://localhost:<port>/...` (the
 *   CLI's one-shot listener), which receives a one-time code in the query instead.
 */
export type ReturnTo = { kind: 'browser'; url: string } | { kind: 'loopback'; url: string };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function parseReturnTo(value: string | undefined): ReturnTo | { error: string } {
  if (value === undefined || value === '') return { kind: 'browser', url: '/' };
  if (value.length > 2048) return { error: 'is longer than 2048 characters' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return { error: 'contains control characters or backslashes' };
  if (value.startsWith('/')) {
    // `//host/...` is protocol-relative: another origin.
    if (value.startsWith('//')) return { error: 'must be a path on this origin, not //host' };
    return { kind: 'browser', url: value };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { error: 'must be a path starting with / or an http://127.0.0.1:<port>/ loopback URL' };
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || !url.port) {
    return { error: 'must be a path starting with / or an http://127.0.0.1:<port>/ loopback URL' };
  }
  if (url.username || url.password) return { error: 'must not carry credentials' };
  url.hash = '';
  return { kind: 'loopback', url: url.toString() };
}

/** The browser path: tokens in the fragment, which browsers never send to any server. */
export function withTokenFragment(returnTo: string, tokens: TokenResponse): string {
  const fragment = new URLSearchParams({
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_in: String(tokens.expires_in),
    token_type: tokens.token_type,
  });
  return `${returnTo.split('#')[0]}#${fragment.toString()}`;
}

/** The loopback path: a one-time code the CLI exchanges at POST /api/auth/exchange. */
export function withQuery(returnTo: string, params: Record<string, string>): string {
  const url = new URL(returnTo);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}

/** An error for a browser destination goes in the fragment, as the tokens would. */
export function withErrorFragment(returnTo: string, error: string, description: string): string {
  return `${returnTo.split('#')[0]}#${new URLSearchParams({ error, error_description: description }).toString()}`;
}
