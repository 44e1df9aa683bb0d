// `pnpm admin:recover [--identity <name>]`: the way back in when no admin key is at hand (the first
// start's key was lost, every admin was disabled). Run on the server, or anywhere that reaches the
// control-plane database: it reads DATABASE_URL, or the embedded PGlite under WARDEN_DATA_DIR, the
// way `pnpm start` does. It makes the identity (default `admin`) an active admin, creating it when
// missing or re-enabling it when disabled (never lifting a block), issues it a new API key, prints
// that key once, and records `admin.recover` in the audit log (also a catalog `admin.change` event,
// for webhooks). Existing keys are left alone.
import '@warden/runtime/lean-wasm';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueToken } from '@warden/access';
import { openDatabase, type Database, type PrismaClient } from '@warden/db';
import { EventPublisher } from '@warden/events';
import { loadConfig, type WardenConfig } from '@warden/runtime';
import { ADMIN_TRANSACTION, lockAdminBootstrap } from './bootstrap.js';

/** Same as apps/warden/src/stack.ts EMBEDDED_PID_FILE: the pid of a stack that has PGlite open. */
const EMBEDDED_PID_FILE = 'warden.pid';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const USAGE = 'usage: npx -y pnpm@10.34.8 admin:recover [--identity <name>]   (default identity: admin)';

export interface RecoveredAdmin {
  identity: { id: string; name: string; created: boolean; previous?: { role: string; status: string } };
  apiKey: { id: string; name: string; prefix: string };
}

/** Recovery would undo something it must not (a block); nothing was changed. */
export class RecoveryRefused extends Error {
  override name = 'RecoveryRefused';
}

/**
 * Makes `identityName` an active admin (created when missing; a disabled one re-enabled, a blocked
 * one refused) and issues it a new API key. The key is passed to `show` inside the transaction,
 * before the commit, as at the first start: should the process die before the key is out, nothing
 * was changed and the command can simply be run again.
 */
export async function recoverAdmin(
  prisma: PrismaClient,
  options: { identity: string; show: (key: string, recovered: RecoveredAdmin) => void; now?: Date },
): Promise<RecoveredAdmin> {
  const issued = issueToken('apiKey');
  const keyName = `recovery-${(options.now ?? new Date()).toISOString().replace(/[-:]|\.\d+/g, '')}`;
  let shown = false;
  try {
    return await prisma.$transaction(async (tx) => {
      await lockAdminBootstrap(tx);
      const before = await tx.identity.findUnique({ where: { name: options.identity } });
      if (before?.status === 'blocked') {
        // Blocked is containment during an incident: recovery does not undo it behind the responders' back.
        throw new RecoveryRefused(
          `identity "${before.name}" is blocked${before.blockedReason ? ` (${before.blockedReason})` : ''}; ` +
            'recovery does not lift a block: recover into another identity (--identity <name>) and unblock it from there if that is intended',
        );
      }
      const identity = before
        ? await tx.identity.update({
            where: { id: before.id },
            data: { role: 'admin', status: 'active' },
          })
        : await tx.identity.create({
            data: { name: options.identity, role: 'admin', displayName: 'Recovered administrator' },
          });
      const apiKey = await tx.apiKey.create({
        data: { identityId: identity.id, name: keyName, prefix: issued.prefix, hash: issued.hash },
      });
      const changed = before && (before.role !== 'admin' || before.status !== 'active');
      const recovered: RecoveredAdmin = {
        identity: {
          id: identity.id,
          name: identity.name,
          created: !before,
          ...(changed ? { previous: { role: before.role, status: before.status } } : {}),
        },
        apiKey: { id: apiKey.id, name: apiKey.name, prefix: apiKey.prefix },
      };
      await tx.auditEntry.create({
        data: {
          action: 'admin.recover',
          targetType: 'identity',
          targetId: identity.id,
          targetName: identity.name,
          actorName: 'system',
          details: auditDetails(recovered),
        },
      });
      options.show(issued.token, recovered);
      shown = true;
      return recovered;
    }, ADMIN_TRANSACTION);
  } catch (error) {
    if (!shown) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`the API key shown above was not saved and does not work (${reason}); run the command again`, {
      cause: error,
    });
  }
}

/** Who ran the command where: the audit entry's only trace of a person. */
function auditDetails(recovered: RecoveredAdmin) {
  return {
    via: 'admin:recover',
    osUser: safe(() => userInfo().username),
    host: safe(() => hostname()),
    apiKey: { id: recovered.apiKey.id, name: recovered.apiKey.name, prefix: recovered.apiKey.prefix },
    identityCreated: recovered.identity.created,
    ...(recovered.identity.previous ? { previous: recovered.identity.previous } : {}),
  };
}

function safe(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/** The pid in `<dataDir>/warden.pid` when that process still runs (and is not this one). */
function runningEmbeddedStack(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dataDir, EMBEDDED_PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

function parseArgs(argv: string[]): { identity: string } | string {
  let identity = 'admin';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') return USAGE;
    const inline = /^--identity=(.*)$/.exec(arg);
    if (inline) identity = inline[1]!;
    else if (arg === '--identity' && argv[i + 1] !== undefined) identity = argv[++i]!;
    else return `unknown argument "${arg}"\n${USAGE}`;
  }
  if (!NAME.test(identity))
    return `--identity must be a Warden identity name (letters, digits, . _ -), got "${identity}"`;
  return { identity };
}

/**
 * The command: parses arguments, opens the control plane as the stack would, recovers, prints.
 * Returns the exit code (0 done, 1 failed, 2 bad arguments). Errors are one line, no stack.
 */
export async function runAdminRecover(
  argv: string[],
  load: () => WardenConfig = loadConfig,
  out: { log: (line: string) => void; error: (line: string) => void } = {
    log: (line) => process.stdout.write(line + '\n'),
    error: (line) => process.stderr.write(line + '\n'),
  },
): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    (args === USAGE ? out.log : out.error)(args);
    return args === USAGE ? 0 : 2;
  }
  let db: Database | undefined;
  try {
    const config = load();
    if (!config.databaseUrl) {
      const pid = runningEmbeddedStack(config.dataDir);
      if (pid !== undefined) {
        out.error(
          `admin recovery failed: Warden (pid ${pid}) has the embedded database under ${config.dataDir} open, and PGlite serves one process: ` +
            `stop it, run this again, then start Warden (if no Warden runs, delete ${path.join(config.dataDir, EMBEDDED_PID_FILE)})`,
        );
        return 1;
      }
    }
    db = await openDatabase({ ...config, applicationName: 'warden-admin-recover' });
    const recovered = await recoverAdmin(db.prisma, {
      identity: args.identity,
      show: (key, r) => {
        const was = r.identity.created
          ? 'created as an admin'
          : r.identity.previous
            ? `made an active admin (was ${r.identity.previous.role}, ${r.identity.previous.status})`
            : 'already an active admin';
        out.log(
          [
            `Admin access recovered on ${db!.location}: identity "${r.identity.name}" ${was}, new API key "${r.apiKey.name}" (audit: admin.recover).`,
            'It is shown only this once; keep it:',
            `  ${key}`,
            'Keys issued before still work: once signed in, list them (GET /api/api-keys) and revoke a lost one (DELETE /api/api-keys/<id>).',
          ].join('\n'),
        );
      },
    });
    await announce(db.prisma, recovered);
    return 0;
  } catch (error) {
    out.error(`admin recovery failed: ${describe(error)}`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}

/** The catalog event of the audit entry (webhooks, SIEM): delivered by the API's dispatcher. */
async function announce(prisma: PrismaClient, recovered: RecoveredAdmin): Promise<void> {
  const events = new EventPublisher(prisma);
  await events.emit(
    'admin.change',
    { identity: null },
    {
      action: 'admin.recover',
      target: { type: 'identity', id: recovered.identity.id, name: recovered.identity.name },
      by: null,
      ip: null,
      details: auditDetails(recovered),
    },
  );
  await events.flush();
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  // P2021: a table is missing, i.e. this database was never migrated by Warden.
  if (code === 'P2021' || /does not exist in the current database/.test(message)) {
    return 'the control-plane database has no Warden tables yet: start Warden once (`npx -y pnpm@10.34.8 start`), which creates the first admin and shows its key';
  }
  return message.split('\n')[0]!;
}

// Run as its own entry (not when bundled into the API's main.js, which runs it as `admin recover`).
if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) &&
  path.basename(process.argv[1]).startsWith('admin-recover')
) {
  process.exitCode = await runAdminRecover(process.argv.slice(2));
  // Prisma's pools may linger for a moment; there is nothing left to wait for.
  process.exit();
}
