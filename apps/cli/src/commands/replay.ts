import { replay } from '@warden/recording';
import { parseCommandArgs } from '../args.js';
import { EXIT_OK, UsageError, type Command } from '../command.js';
import { loadRecording } from '../recording-source.js';
import { warnIfTampered } from './verify.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: 'play a session back with its original timing',
  usage: `Usage: warden replay <session-id | file.jsonl | -> [--speed N] [--no-wait] [--max-pause MS]

Prints the session's transcript event by event, waiting as long between events as
the session did.

  --speed N        play N times faster (0.5 = half speed; default 1)
  --no-wait        print everything at once
  --max-pause MS   the longest single pause in milliseconds (default 2000)`,

  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        speed: { type: 'string' },
        'no-wait': { type: 'boolean' },
        'max-pause': { type: 'string' },
      },
      1,
    );
    const speed = values['no-wait'] ? Infinity : nonNegative('--speed', values.speed, 1);
    const maxPause = nonNegative('--max-pause', values['max-pause'], 2000);
    const recording = await loadRecording(positionals[0]!, ctx);
    warnIfTampered(recording, ctx);
    await replay(recording.events, {
      speed,
      maxPause,
      write: ctx.stdout,
      ...(ctx.sleep ? { sleep: ctx.sleep } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return EXIT_OK;
  },
};

function nonNegative(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n) || n < 0)
    throw new UsageError(`${flag} must be a number ≥ 0, got "${value}"`);
  return n;
}
