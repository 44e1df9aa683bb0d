import { renderTranscript } from '@warden/recording';
import { parseCommandArgs } from '../args.js';
import { EXIT_OK, type Command } from '../command.js';
import { loadRecording } from '../recording-source.js';
import { warnIfTampered } from './verify.js';

export const transcriptCommand: Command = {
  name: 'transcript',
  summary: 'print a session as a psql-style transcript',
  usage: `Usage: warden transcript <session-id | file.jsonl | -> [--no-timing]

Prints the whole session at once: statements with their time offsets, parameters,
policy decisions, result tables, errors and notices.

  --no-timing   leave out the "Time: ... ms" line after each statement`,

  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { 'no-timing': { type: 'boolean' } }, 1);
    const recording = await loadRecording(positionals[0]!, ctx);
    warnIfTampered(recording, ctx);
    ctx.stdout(renderTranscript(recording.events, { timing: !values['no-timing'] }));
    return EXIT_OK;
  },
};
