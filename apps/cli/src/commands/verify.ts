import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { keyIdOf, parsePublicKey, verifyRecording, type VerifyReport } from '@warden/recording';
import { parseCommandArgs } from '../args.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliContext, type Command } from '../command.js';
import { loadRecording, type LoadedRecording } from '../recording-source.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: "check a recording's hash chain and seal offline",
  usage: `Usage: warden verify <file.jsonl | - | session-id> [--public-key <file.pem | base64>] [--json]

Recomputes every event's hash and link, and checks the seal's Ed25519 signature.
Exits 0 when the recording is intact, 1 when it is not (and says where it breaks),
2 on a usage error.

  --public-key K   the deployment's recording public key: a PEM file, or base64 of the
                   raw 32-byte key or its SPKI DER. Without it the key embedded in the
                   export is used, which only shows the file is self-consistent: anyone
                   able to rewrite the recording could have replaced that key too.
  --json           print the verification report as JSON`,

  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(
      args,
      { 'public-key': { type: 'string' }, json: { type: 'boolean' } },
      1,
    );
    const given = values['public-key'];
    const suppliedKey = given === undefined ? undefined : readPublicKey(given, ctx.cwd);
    const recording = await loadRecording(positionals[0]!, ctx);

    let publicKey: KeyObject | null = suppliedKey ?? null;
    let keySource = given === undefined ? 'none' : '--public-key';
    if (!publicKey && recording.header.publicKey) {
      try {
        publicKey = parsePublicKey(recording.header.publicKey);
        keySource = 'embedded in the export';
      } catch {
        ctx.stderr('warning: the public key embedded in the export is unreadable\n');
      }
    }

    const report = verifyRecording({
      sessionId: recording.sessionId,
      events: recording.events,
      seal: recording.header.seal,
      publicKey,
      ...endedFromHeader(recording),
    });

    if (values.json) {
      ctx.stdout(JSON.stringify({ ...report, publicKeyId: publicKey ? keyIdOf(publicKey) : null, keySource }) + '\n');
    } else {
      ctx.stdout(describe(recording, report, publicKey, keySource));
    }
    if (keySource === 'embedded in the export' && report.seal === 'valid') {
      ctx.stderr(
        'warning: the seal was checked with the public key inside the export, which proves only that the file is\n' +
          "consistent with itself. Pass the deployment's recording key with --public-key to prove who sealed it.\n",
      );
    }
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  },
};

/** A PEM file, or the key itself in base64; anything else is a usage error. */
function readPublicKey(value: string, cwd: string): KeyObject {
  const path = resolve(cwd, value);
  const fromFile = existsSync(path);
  try {
    return parsePublicKey(fromFile ? readFileSync(path, 'utf8') : value);
  } catch (err) {
    const what = fromFile ? `the file ${value}` : `"${value}" (not a file, nor a base64 key)`;
    throw new UsageError(`--public-key: cannot read an Ed25519 public key from ${what}: ${(err as Error).message}`);
  }
}

/** The summary may say the session is over even if the events (or seal) that would show it were removed. */
function endedFromHeader({ header }: LoadedRecording): { ended?: boolean } {
  const endedAt = header.session.endedAt;
  if (typeof endedAt === 'string' && endedAt !== '') return { ended: true };
  return {};
}

function describe(recording: LoadedRecording, report: VerifyReport, key: KeyObject | null, keySource: string): string {
  const seal = recording.header.seal;
  const lines = [
    `recording: session ${recording.sessionId}, ${report.eventCount} events (${recording.origin})`,
    `key:       ${key ? `${keyIdOf(key)} (${keySource})` : 'none'}`,
  ];
  if (report.brokenAt) {
    const b = report.brokenAt;
    lines.push(`chain:     BROKEN at seq ${b.seq} (${b.reason}): ${b.detail}`);
  } else {
    lines.push(`chain:     intact`);
  }
  const sealText: Record<VerifyReport['seal'], string> = {
    valid: `valid, signed by key ${seal?.signingKeyId} over seq 1..${seal?.lastSeq}`,
    'invalid-signature': `INVALID SIGNATURE (sealed by key ${seal?.signingKeyId}, checked with ${key ? keyIdOf(key) : '?'})`,
    mismatch: `DOES NOT MATCH the chain (sealed seq 1..${seal?.lastSeq}, final hash ${seal?.finalHash.slice(0, 12)}…)`,
    missing: 'MISSING: the session ended but the recording is not sealed',
    unsealed: 'none yet: the session was still running (only the chain’s own consistency is checked)',
    'no-public-key': 'NOT CHECKED: no public key (pass --public-key)',
  };
  lines.push(`seal:      ${sealText[report.seal]}`);
  lines.push(report.ok ? 'OK' : 'FAILED');
  return lines.join('\n') + '\n';
}

/** Transcripts and replays of a recording that does not verify say so, without refusing to show it. */
export function warnIfTampered(recording: LoadedRecording, ctx: CliContext): void {
  const report = verifyRecording({
    sessionId: recording.sessionId,
    events: recording.events,
    seal: recording.header.seal,
  });
  const problem = report.brokenAt
    ? `its chain breaks at seq ${report.brokenAt.seq} (${report.brokenAt.reason})`
    : report.seal === 'mismatch'
      ? 'its seal does not match its events'
      : undefined;
  if (problem) ctx.stderr(`warning: this recording does not verify: ${problem}; run \`warden verify\` for details\n`);
}
