import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ApiClient } from '../api-client.js';
import { parseCommandArgs } from '../args.js';
import { CliError, EXIT_OK, UsageError, type Command } from '../command.js';
import { parseExport } from '@warden/recording';

export const exportCommand: Command = {
  name: 'export',
  summary: "download a session's recording as JSON Lines",
  usage: `Usage: warden export <session-id> [-o file.jsonl]

Downloads the recording (header with the seal and the signing public key, then one
event per line) from the API at WARDEN_URL with WARDEN_TOKEN, to standard output or
to a file. Verify it later, offline, with \`warden verify\`.

  -o, --output FILE   write to FILE instead of standard output`,

  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(args, { output: { type: 'string', short: 'o' } }, 1);
    const sessionId = positionals[0]!;
    if (/[/\\]|\.(jsonl|ndjson|json)$/i.test(sessionId)) {
      throw new UsageError(`"${sessionId}" looks like a file; export takes a session id`);
    }
    const api = ApiClient.fromEnv(ctx.env, ctx.fetch);
    const text = await api.exportSession(sessionId);
    let eventCount: number;
    try {
      eventCount = parseExport(text).events.length;
    } catch (err) {
      // Saving what is not a recording would only fail later, at verification.
      throw new CliError(`the API's answer is not a recording export: ${(err as Error).message}`);
    }
    if (values.output === undefined || values.output === '-') {
      ctx.stdout(text);
    } else {
      await writeFile(resolve(ctx.cwd, values.output), text);
      ctx.stderr(`exported ${eventCount} events of session ${sessionId} to ${values.output}\n`);
    }
    return EXIT_OK;
  },
};
