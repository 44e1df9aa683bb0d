import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, api, getToken, logout, scheduleRefresh, setToken, setTokens, UNAUTHORIZED_EVENT } from './api';
import type { Me } from './types';

interface AuthState {
  me: Me | null;
  /** Why the user is signed out (expired token, blocked...), shown on the sign-in page. */
  notice: string | null;
  ready: boolean;
  signIn(token: string): Promise<void>;
  signOut(notice?: string): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth outside AuthProvider');
  return auth;
}

/**
 * After OIDC login the API redirects back with the tokens in the URL fragment (never sent to a
 * server, never in logs). Take the access token, then strip the fragment from the address bar and
 * history so it cannot be copied or bookmarked.
 */
export function consumeLoginFragment(): string | null {
  const hash = window.location.hash.replace(/^#/, '');
  if (!hash.includes('access_token=') && !hash.includes('error=')) return null;
  const params = new URLSearchParams(hash);
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  const accessToken = params.get('access_token');
  if (accessToken) {
    const expiresIn = Number(params.get('expires_in'));
    setTokens({
      accessToken,
      ...(params.get('refresh_token') ? { refreshToken: params.get('refresh_token')! } : {}),
      ...(expiresIn > 0 ? { expiresIn } : {}),
    });
    return null;
  }
  return `Single sign-on failed: ${params.get('error_description') ?? params.get('error')}`;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [ready, setReady] = useState(false);

  const signOut = useCallback((why?: string) => {
    void logout();
    setMe(null);
    setNotice(why ?? null);
  }, []);

  const signIn = useCallback(async (token: string) => {
    setToken(token);
    try {
      setMe(await api<Me>('GET', '/api/users/me'));
      setNotice(null);
    } catch (err) {
      setToken(null);
      throw err;
    }
  }, []);

  useEffect(() => {
    const failed = consumeLoginFragment();
    if (failed) setNotice(failed);
    // A reload keeps the tab's tokens: renew them on schedule again.
    scheduleRefresh();
    const token = getToken();
    const done = () => setReady(true);
    if (!token) return done();
    api<Me>('GET', '/api/users/me')
      .then(setMe)
      .catch((err: unknown) => {
        setToken(null);
        if (err instanceof ApiError && err.status === 401) setNotice(`Signed out: ${err.message}`);
        else setNotice(err instanceof Error ? err.message : String(err));
      })
      .finally(done);
  }, []);

  useEffect(() => {
    const onUnauthorized = (e: Event) =>
      signOut(`Your session ended (${(e as CustomEvent<string>).detail}). Sign in again.`);
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [signOut]);

  return <AuthContext.Provider value={{ me, notice, ready, signIn, signOut }}>{children}</AuthContext.Provider>;
}
