import { useEffect, useRef, useState } from 'react';
import { apiText } from '../api';

/**
 * Plays an SSH session's asciicast v2 recording with asciinema-player. The player (and its
 * WebAssembly terminal) is loaded only here, as its own chunk, so other pages stay small.
 * When the API has no recording (404, or not an interactive session) nothing is shown.
 */
export function Player({ sessionId }: { sessionId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<'loading' | 'ready' | 'none' | 'error'>('loading');
  const [message, setMessage] = useState('');

  useEffect(() => {
    const abort = new AbortController();
    let dispose: (() => void) | undefined;
    void (async () => {
      try {
        const cast = await apiText(`/api/sessions/${sessionId}/asciicast`, abort.signal);
        if (cast === null) return setState('none');
        const [player] = await Promise.all([
          import('asciinema-player'),
          import('asciinema-player/dist/bundle/asciinema-player.css'),
        ]);
        if (abort.signal.aborted || !box.current) return;
        const instance = player.create({ data: cast }, box.current, { fit: 'width', idleTimeLimit: 2, controls: true });
        dispose = () => instance.dispose();
        setState('ready');
      } catch (err) {
        if (abort.signal.aborted) return;
        setMessage(err instanceof Error ? err.message : String(err));
        setState('error');
      }
    })();
    return () => {
      abort.abort();
      dispose?.();
    };
  }, [sessionId]);

  if (state === 'none') return <p className="hint">No terminal recording for this session; the transcript is below.</p>;
  return (
    <section aria-label="Terminal playback">
      <h2>Playback</h2>
      {state === 'loading' ? <p role="status">Loading the terminal recording…</p> : null}
      {state === 'error' ? (
        <p className="error" role="alert">
          The terminal recording could not be played: {message}
        </p>
      ) : null}
      <div ref={box} className="player" />
    </section>
  );
}
