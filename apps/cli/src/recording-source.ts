import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ExportParseError, exportSessionId, parseExport, type ParsedExport } from '@warden/recording';
import { ApiClient } from './api-client.js';
import { CliError, type CliContext } from './command.js';

export interface LoadedRecording extends ParsedExport {
  sessionId: string;
  /** Where it came from, for messages: a file name, "standard input" or "session <id> from <url>". */
  origin: string;
  /** The export exactly as read, for writing it out again byte for byte. */
  text: string;
}

/**
 * A recording named on the command line: `-` for standard input, a path to an export
 * (anything that exists, or looks like a file name), or else a session id fetched
 * from the API.
 */
export async function loadRecording(ref: string, ctx: CliContext): Promise<LoadedRecording> {
  if (ref === '-') return parse(await ctx.readStdin(), 'standard input');
  if (looksLikeFile(ref, ctx.cwd)) {
    let text: string;
    try {
      text = await readFile(resolve(ctx.cwd, ref), 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${ref}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parse(text, ref);
  }
  const api = ApiClient.fromEnv(ctx.env, ctx.fetch);
  return parse(await api.exportSession(ref), `session ${ref} from ${api.baseUrl}`);
}

function looksLikeFile(ref: string, cwd: string): boolean {
  return /[/\\]/.test(ref) || /\.(jsonl|ndjson|json)$/i.test(ref) || existsSync(resolve(cwd, ref));
}

function parse(text: string, origin: string): LoadedRecording {
  let parsed: ParsedExport;
  try {
    parsed = parseExport(text);
  } catch (err) {
    if (err instanceof ExportParseError)
      throw new CliError(`${origin} is not a Warden recording export: ${err.message}`);
    throw err;
  }
  const sessionId = exportSessionId(parsed);
  if (!sessionId) throw new CliError(`${origin}: the export names no session and has no events`);
  return { ...parsed, sessionId, origin, text };
}
