import { describe, expect, it } from 'vitest';
import { replay } from './replay.js';
import { samplePostgresRecording } from './test-helpers.js';
import { renderTranscript } from './transcript.js';

// The sample's events are 10 ms apart, except the UPDATE, 1500 ms after the previous event.
const recording = samplePostgresRecording();
const gaps = recording.events.slice(1).map((e, i) => Date.parse(e.t) - Date.parse(recording.events[i]!.t));

async function run(options: { speed?: number; maxPause?: number }) {
  const log: (string | number)[] = [];
  let output = '';
  await replay(recording.events, {
    ...options,
    write: (s) => {
      log.push('write');
      output += s;
    },
    sleep: async (ms) => {
      log.push(ms);
    },
  });
  return { log, sleeps: log.filter((x): x is number => typeof x === 'number'), output };
}

describe('replay', () => {
  it('waits the original gaps at speed 1 and prints the whole transcript', async () => {
    const { sleeps, output } = await run({});
    expect(gaps).toContain(1500);
    expect(sleeps).toEqual(gaps);
    expect(output).toBe(renderTranscript(recording.events));
  });

  it('writes each event after the pause that precedes it', async () => {
    const { log } = await run({});
    // write (start), then for every later event: its pause, then its text
    expect(log.slice(0, 5)).toEqual(['write', 10, 'write', 10, 'write']);
  });

  it('divides the gaps by the speed', async () => {
    expect((await run({ speed: 2 })).sleeps).toEqual(gaps.map((g) => g / 2));
    expect((await run({ speed: 0.5, maxPause: Infinity })).sleeps).toEqual(gaps.map((g) => g * 2));
  });

  it('caps each pause at maxPause, after applying the speed', async () => {
    expect((await run({ maxPause: 100 })).sleeps).toEqual(gaps.map((g) => Math.min(g, 100)));
    expect((await run({ speed: 0.5 })).sleeps).toContain(2000); // 3000 ms capped at the default
  });

  it('does not wait at all at speed 0 or Infinity', async () => {
    for (const speed of [0, Infinity]) {
      const { sleeps, output } = await run({ speed });
      expect(sleeps).toEqual([]);
      expect(output).toBe(renderTranscript(recording.events));
    }
  });

  it('rejects a negative speed', async () => {
    await expect(run({ speed: -1 })).rejects.toThrow(RangeError);
  });

  it('stops between events when aborted', async () => {
    const controller = new AbortController();
    let writes = 0;
    await replay(recording.events, {
      write: () => {
        if (++writes === 2) controller.abort();
      },
      sleep: async () => {},
      signal: controller.signal,
    });
    expect(writes).toBe(2);
  });
});
