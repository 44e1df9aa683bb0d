import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, streamEvents, type StreamEvent } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (null: nothing to load) and reloads on demand; keeps the last data while reloading. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setLoading(true);
    api<T>('GET', path, undefined, abort.signal)
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') setError(e instanceof ApiError ? e : new ApiError(0, String(e)));
      })
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
  }, [path, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { data, error, loading, reload };
}

export type StreamState = 'connecting' | 'open' | 'closed' | 'error';

/**
 * Keeps a Server-Sent Events stream open (reconnecting with backoff) and hands each event to
 * `onEvent`. `resume` gives the path to reconnect to (e.g. with `after=<last seq>`); returning
 * null stops (the stream said it ended).
 */
export function useEventStream(
  path: string | null,
  onEvent: (event: StreamEvent) => 'stop' | void,
  options: { onOpen?: () => void; resume?: () => string | null } = {},
): StreamState {
  const [state, setState] = useState<StreamState>('connecting');
  const handlers = useRef({ onEvent, ...options });
  handlers.current = { onEvent, ...options };
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    void (async () => {
      let next: string | null = path;
      let delay = 500;
      while (next && !abort.signal.aborted) {
        setState('connecting');
        try {
          let opened = false;
          for await (const event of streamEvents(next, abort.signal)) {
            if (!opened) {
              opened = true;
              delay = 500;
              setState('open');
              handlers.current.onOpen?.();
            }
            if (handlers.current.onEvent(event) === 'stop') {
              setState('closed');
              return;
            }
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
            setState('error');
            return;
          }
        }
        if (abort.signal.aborted) return;
        setState('connecting');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
        next = handlers.current.resume ? handlers.current.resume() : path;
      }
    })();
    return () => abort.abort();
  }, [path]);
  return state;
}

/** Re-renders every `ms` (for "3 minutes ago" labels). */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
