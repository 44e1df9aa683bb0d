import { chmod, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ApiClient, DEFAULT_API_URL } from './api-client.js';
import { CliError } from './command.js';

/** One sign-in, as `warden login` saved it. */
export interface SavedLogin {
  access_token: string;
  refresh_token: string;
  /** When access_token expires (ms since the epoch). */
  expires_at: number;
  /** Who signed in, for `warden whoami` and messages. */
  name?: string;
}

type Env = Record<string, string | undefined>;

/** The OAuth token response of /api/auth/exchange and /api/auth/refresh. */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

/** Refresh this long before expiry, so a token handed to psql is not dead on arrival. */
const REFRESH_MARGIN_MS = 60_000;

export function apiUrl(env: Env): string {
  return (env.WARDEN_URL || DEFAULT_API_URL).replace(/\/+$/, '');
}

/** `$XDG_CONFIG_HOME/warden/credentials.json` (default `~/.config`): logins keyed by API URL. */
export function credentialsPath(env: Env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'warden', 'credentials.json');
}

async function readAll(env: Env): Promise<Record<string, SavedLogin>> {
  try {
    return JSON.parse(await readFile(credentialsPath(env), 'utf8')) as Record<string, SavedLogin>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${credentialsPath(env)}: ${(err as Error).message}`);
  }
}

/** Written to a 0600 temporary file and renamed over, so the file is never readable by others nor half-written. */
async function writeAll(env: Env, all: Record<string, SavedLogin>): Promise<void> {
  const file = credentialsPath(env);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/**
 * Serialises refreshes between CLI processes (`warden token` in parallel scripts): a
 * refresh token is single use, and the API ends the sign-in when one comes back twice.
 * A lock older than 30 s is a crashed process's and is taken over.
 */
async function withRefreshLock<T>(env: Env, work: () => Promise<T>): Promise<T> {
  const lock = `${credentialsPath(env)}.lock`;
  await mkdir(dirname(lock), { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 30_000 || attempt > 300) await unlink(lock).catch(() => {});
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await work();
  } finally {
    await unlink(lock).catch(() => {});
  }
}

export async function loadLogin(env: Env): Promise<SavedLogin | undefined> {
  return (await readAll(env))[apiUrl(env)];
}

export async function saveLogin(env: Env, login: SavedLogin): Promise<void> {
  const all = await readAll(env);
  all[apiUrl(env)] = login;
  await writeAll(env, all);
}

export async function forgetLogin(env: Env): Promise<boolean> {
  const all = await readAll(env);
  if (!(apiUrl(env) in all)) return false;
  delete all[apiUrl(env)];
  await writeAll(env, all);
  return true;
}

export function fromTokenResponse(tokens: TokenResponse, name?: string, now = Date.now()): SavedLogin {
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: now + tokens.expires_in * 1000,
    ...(name ? { name } : {}),
  };
}

export interface ResolvedToken {
  token: string;
  /** For messages: "WARDEN_TOKEN" or "your saved login". */
  source: string;
  login?: SavedLogin;
}

/**
 * The token commands use: WARDEN_TOKEN when set (it always wins), otherwise the saved
 * login for WARDEN_URL, refreshed first when it expires within a minute.
 */
export async function currentToken(env: Env, fetchImpl: typeof fetch): Promise<ResolvedToken> {
  if (env.WARDEN_TOKEN) return { token: env.WARDEN_TOKEN, source: 'WARDEN_TOKEN' };
  const login = await loadLogin(env);
  if (!login) {
    throw new CliError(`not signed in to ${apiUrl(env)}: run \`warden login\` (or set WARDEN_TOKEN)`);
  }
  if (login.expires_at - Date.now() > REFRESH_MARGIN_MS) {
    return { token: login.access_token, source: 'your saved login', login };
  }
  return withRefreshLock(env, () => refreshLogin(env, fetchImpl));
}

async function refreshLogin(env: Env, fetchImpl: typeof fetch): Promise<ResolvedToken> {
  // Another process may have refreshed while this one waited for the lock.
  const login = await loadLogin(env);
  if (!login) throw new CliError(`not signed in to ${apiUrl(env)}: run \`warden login\``);
  if (login.expires_at - Date.now() > REFRESH_MARGIN_MS) {
    return { token: login.access_token, source: 'your saved login', login };
  }
  const api = new ApiClient(apiUrl(env), undefined, fetchImpl);
  let tokens: TokenResponse;
  try {
    tokens = await api.json<TokenResponse>('/api/auth/refresh', { body: { refresh_token: login.refresh_token } });
  } catch (err) {
    if ((err as { status?: number }).status === 401) {
      await forgetLogin(env);
      throw new CliError(`your sign-in to ${apiUrl(env)} has ended; run \`warden login\` again`);
    }
    throw err;
  }
  const refreshed = fromTokenResponse(tokens, login.name);
  await saveLogin(env, refreshed);
  return { token: refreshed.access_token, source: 'your saved login', login: refreshed };
}

/** An API client with the current token. */
export async function authenticatedClient(env: Env, fetchImpl: typeof fetch): Promise<ApiClient> {
  const resolved = await currentToken(env, fetchImpl);
  return new ApiClient(apiUrl(env), resolved.token, fetchImpl, resolved.source);
}
