import type { RecordedEvent } from './events.js';
import { TranscriptRenderer, type TranscriptOptions } from './transcript.js';

export interface ReplayOptions {
  /** 1 = original timing, 2 = twice as fast; 0 or Infinity = no waiting. Default 1. */
  speed?: number;
  write: (s: string) => void;
  sleep?: (ms: number) => Promise<void>;
  /** The longest single pause in ms, after dividing by speed (default 2000): nobody wants to watch an idle hour. */
  maxPause?: number;
  transcript?: TranscriptOptions;
  /** Stops the replay between events. */
  signal?: AbortSignal;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes the transcript event by event, pausing for the gaps the session really had. */
export async function replay(events: Iterable<RecordedEvent>, options: ReplayOptions): Promise<void> {
  const speed = options.speed ?? 1;
  if (Number.isNaN(speed) || speed < 0) throw new RangeError(`replay speed must be 0 or positive, got ${speed}`);
  const maxPause = options.maxPause ?? 2000;
  const sleep = options.sleep ?? defaultSleep;
  const wait = speed !== 0 && speed !== Infinity;
  const renderer = new TranscriptRenderer(options.transcript);
  let previous: number | undefined;
  for (const event of events) {
    if (options.signal?.aborted) return;
    const time = Date.parse(event.t);
    if (wait && previous !== undefined && Number.isFinite(time)) {
      // Clocks can step backwards between events; a negative gap is no gap.
      const pause = Math.min((time - previous) / speed, maxPause);
      if (pause > 0) await sleep(pause);
      if (options.signal?.aborted) return;
    }
    if (Number.isFinite(time)) previous = time;
    const text = renderer.render(event);
    if (text) options.write(text);
  }
}
