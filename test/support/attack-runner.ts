import pg from 'pg';
import postgres from 'postgres';
import type { Attack, Expect, Step } from './attack-corpus.js';
import { findForms } from './canaries.js';
import { run } from './data-path.js';
import { CONNECTIONS, type EnforcementTarget } from './enforcement-target.js';
import { decodeError, password, startupPacket, typed, WireClient } from './wire.js';

/** What one step did, as the client saw it. */
export interface StepResult {
  ok: boolean;
  code?: string;
  message?: string;
  /** The session was gone before or while the step ran. */
  closed: boolean;
}

export interface AttackResult {
  /** The connection itself was refused (with this message). */
  connectError?: string;
  steps: StepResult[];
  /** Every byte the gateway sent to the client. */
  received: Buffer;
}

const CLOSED: StepResult = { ok: false, closed: true };

function stepError(e: unknown): StepResult {
  const err = e as { code?: string; message?: string };
  const closed = !err.code || /terminat|ended|closed|ECONNRESET|EPIPE/i.test(err.message ?? '');
  return { ok: false, code: err.code, message: err.message, closed: closed && !/^[0-9A-Z]{5}$/.test(err.code ?? '') };
}

/** Runs an attack through the tap in front of the gateway, with the attack's transport. */
export async function runAttack(target: EnforcementTarget, attack: Attack): Promise<AttackResult> {
  target.tap.take();
  const url = target.url(attack.profile);
  let outcome: Omit<AttackResult, 'received'>;
  switch (attack.transport) {
    case 'simple':
    case 'extended':
    case 'binary':
      outcome = await viaNodePostgres(url, attack);
      break;
    case 'pipeline':
      outcome = await viaPostgresJs(url, attack);
      break;
    case 'psql':
      outcome = await viaPsql(url, attack);
      break;
    case 'raw':
      outcome = await viaRawWire(target, attack);
      break;
  }
  // Late messages (notifications, a FATAL before close) arrive within a moment.
  await new Promise((r) => setTimeout(r, 100));
  return { ...outcome, received: target.tap.take() };
}

async function viaNodePostgres(url: string, attack: Attack): Promise<Omit<AttackResult, 'received'>> {
  const client = new pg.Client({
    connectionString: url,
    ...(attack.startup?.options ? { options: attack.startup.options } : {}),
    ...(attack.startup?.client_encoding ? { client_encoding: attack.startup.client_encoding } : {}),
  });
  client.on('error', () => {});
  client.on('notice', () => {});
  try {
    await client.connect();
  } catch (e) {
    return { connectError: (e as Error).message, steps: attack.steps.map(() => CLOSED) };
  }
  const steps: StepResult[] = [];
  let closed = false;
  for (const step of attack.steps) {
    if (closed) {
      steps.push(CLOSED);
      continue;
    }
    const config: pg.QueryConfig & { queryMode?: string; binary?: boolean } =
      attack.transport === 'simple'
        ? { text: step.sql ?? '' }
        : { text: step.sql ?? '', values: [], queryMode: 'extended', binary: attack.transport === 'binary' };
    try {
      await client.query(config);
      steps.push({ ok: true, closed: false });
    } catch (e) {
      const result = stepError(e);
      closed = result.closed;
      steps.push(result);
    }
  }
  await client.end().catch(() => {});
  return { steps };
}

async function viaPostgresJs(url: string, attack: Attack): Promise<Omit<AttackResult, 'received'>> {
  const connection: Record<string, string> = {};
  if (attack.startup?.options) connection.options = attack.startup.options;
  if (attack.startup?.client_encoding) connection.client_encoding = attack.startup.client_encoding;
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection, connect_timeout: 10 });
  try {
    // All steps at once: one pipeline on one connection.
    const settled = await Promise.allSettled(attack.steps.map((s) => sql.unsafe(s.sql ?? '').execute()));
    const steps = settled.map((s) => (s.status === 'fulfilled' ? { ok: true, closed: false } : stepError(s.reason)));
    const refusedAtConnect = settled.every(
      (s) => s.status === 'rejected' && /startup|connect|FATAL|options|encoding/i.test(String(s.reason?.message)),
    );
    return refusedAtConnect && attack.connect === 'refused'
      ? { connectError: String((settled[0] as PromiseRejectedResult).reason?.message), steps }
      : { steps };
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {});
  }
}

async function viaPsql(url: string, attack: Attack): Promise<Omit<AttackResult, 'received'>> {
  // One step per line set; errors are reported with the input line where the statement ended.
  const lines = ['\\set VERBOSITY verbose'];
  const endLine: number[] = [];
  for (const step of attack.steps) {
    // psql sends a statement when it reads its semicolon.
    const sql = (step.sql ?? '').trimEnd();
    lines.push(...(sql.endsWith(';') ? sql : `${sql};`).split('\n'));
    endLine.push(lines.length);
  }
  const env: Record<string, string> = {};
  if (attack.startup?.options) env.PGOPTIONS = attack.startup.options;
  if (attack.startup?.client_encoding) env.PGCLIENTENCODING = attack.startup.client_encoding;
  const out = await run('psql', ['-X', '--no-psqlrc', '-v', 'ON_ERROR_STOP=0', '-d', url, '-f', '-'], {
    input: lines.join('\n') + '\n',
    env,
    timeoutMs: 30_000,
  });
  if (/connection to server .* failed|FATAL/.test(out.stderr) && !/ERROR:/.test(out.stderr)) {
    return { connectError: out.stderr, steps: attack.steps.map(() => CLOSED) };
  }
  const errors = new Map<number, { code: string; message: string }>();
  for (const m of out.stderr.matchAll(/psql:<stdin>:(\d+): (?:ERROR|FATAL):\s+([0-9A-Z]{5}): (.*)/g)) {
    errors.set(Number(m[1]), { code: m[2]!, message: m[3]! });
  }
  const lost = /server closed the connection|connection to server was lost/.test(out.stderr);
  return {
    steps: endLine.map((line) => {
      const error = errors.get(line);
      return error ? { ok: false, closed: false, ...error } : { ok: !lost, closed: lost };
    }),
  };
}

/** Startup with any parameters, cleartext password, then each step's frames through ReadyForQuery. */
async function viaRawWire(target: EnforcementTarget, attack: Attack): Promise<Omit<AttackResult, 'received'>> {
  const client = await WireClient.connect(target.tap.port);
  try {
    client.write(
      startupPacket(
        { user: 'tester', database: CONNECTIONS[attack.profile], ...attack.startup },
        attack.startupVersion,
      ),
    );
    const auth = await client.next(10_000);
    if (auth?.type !== 'R') {
      const error = auth?.type === 'E' ? decodeError(auth.body).message : 'closed';
      return { connectError: error ?? 'refused', steps: attack.steps.map(() => CLOSED) };
    }
    client.write(password(target.dp.adminKey));
    for (;;) {
      const m = await client.next(10_000);
      if (!m) return { connectError: 'closed during startup', steps: attack.steps.map(() => CLOSED) };
      if (m.type === 'E') {
        return { connectError: decodeError(m.body).message ?? 'refused', steps: attack.steps.map(() => CLOSED) };
      }
      if (m.type === 'Z') break;
    }
    const steps: StepResult[] = [];
    for (const step of attack.steps) {
      if (client.isClosed) {
        steps.push(CLOSED);
        continue;
      }
      client.write(Buffer.concat(stepFrames(step)));
      steps.push(await readThroughReady(client));
    }
    return { steps };
  } finally {
    client.destroy();
  }
}

function stepFrames(step: Step): Buffer[] {
  if (step.frames) return step.frames;
  const text = step.bytes ?? Buffer.from(step.sql ?? '');
  return [typed('Q', Buffer.concat([text, Buffer.from([0])]))];
}

async function readThroughReady(client: WireClient): Promise<StepResult> {
  let error: { code?: string; message?: string } | null = null;
  try {
    for (;;) {
      const m = await client.next(15_000);
      if (!m) return { ok: false, closed: true, ...(error ?? {}) };
      // COPY IN: end it at once (no data to give).
      if (m.type === 'G') client.write(typed('c', Buffer.alloc(0)));
      if (m.type === 'E') error = decodeError(m.body);
      if (m.type === 'Z') return error ? { ok: false, closed: false, ...error } : { ok: true, closed: false };
    }
  } catch (e) {
    return { ok: false, closed: true, message: (e as Error).message };
  }
}

/** Why a result breaks what the attack expects (empty: it held). */
export async function judge(target: EnforcementTarget, attack: Attack, result: AttackResult): Promise<string[]> {
  const problems: string[] = [];
  if (attack.connect === 'refused') {
    if (!result.connectError) problems.push('the connection was accepted; a pinned startup parameter must refuse it');
    else if (attack.connectMentions && !attack.connectMentions.test(result.connectError)) {
      problems.push(`the refusal does not name the parameter: ${result.connectError}`);
    }
  } else if (result.connectError) {
    problems.push(`the connection was refused: ${result.connectError}`);
  }
  attack.steps.forEach((step, i) => {
    const got = result.steps[i];
    if (!got || result.connectError) return;
    const bad = unmet(step.expect ?? 'any', got);
    if (bad) problems.push(`step ${i + 1} (${describe(step)}): ${bad}`);
  });
  const leaked = findForms(result.received, target.clientForms(attack.profile));
  for (const what of leaked) problems.push(`the client received ${what}`);
  if (target.markerExists())
    problems.push(`the marker file ${target.marker} was created (a program ran or a file was written)`);
  for (const finding of await target.scanTarget(target.targetForms(attack.profile)))
    problems.push(`the target holds a canary: ${finding}`);
  const settings = await target.direct<{ s: string }>(
    `SELECT array_to_string(setconfig, ',') AS s FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) OR setrole = '${target.appRole}'::regrole`,
  );
  for (const { s } of settings.rows) problems.push(`a role/database setting was stored: ${s}`);
  for (const check of attack.checks ?? []) {
    if (check === 'orders-intact' && !(await target.ordersIntact())) problems.push('orders lost or changed rows');
    if (check === 'no-new-objects') {
      const made = await target.newObjects();
      if (made.length) problems.push(`objects were created: ${made.join(', ')}`);
    }
    if (check === 'sink-empty') {
      const { rows } = await target.direct<{ n: number }>('SELECT count(*)::int AS n FROM sink');
      if (rows[0]!.n > 0) problems.push(`a server file was copied into sink (${rows[0]!.n} rows)`);
    }
    if (check === 'no-alter-system' && (await target.alteredSystem())) {
      problems.push('ALTER SYSTEM wrote postgresql.auto.conf');
    }
    if (check === 'no-large-objects') {
      const { rows } = await target.direct<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata');
      if (rows[0]!.n > 0) problems.push('a large object was created (a server file was imported)');
    }
  }
  return problems;
}

function unmet(expect: Expect, got: StepResult): string | null {
  if (expect === 'any') return null;
  if (expect === 'ok')
    return got.ok ? null : `expected success, got ${got.code ?? ''} ${got.message ?? 'a closed session'}`;
  if (expect === 'refused-or-closed') return got.ok ? 'expected a refusal or the session to end, but it ran' : null;
  if (got.ok) return `expected refusal with ${expect.refused}, but it ran`;
  if (got.code !== expect.refused) {
    return `expected refusal with ${expect.refused}, got ${got.code ?? 'no code'} ${got.message ?? ''}`;
  }
  if (expect.mentions && !expect.mentions.test(got.message ?? '')) {
    return `refusal does not mention ${expect.mentions}: ${got.message}`;
  }
  return null;
}

function describe(step: Step): string {
  if (step.sql) return step.sql.length > 80 ? `${step.sql.slice(0, 77)}...` : step.sql;
  if (step.bytes) return `bytes ${step.bytes.toString('latin1').slice(0, 60)}`;
  return `frames ${(step.frames ?? []).map((f) => String.fromCharCode(f[0]!)).join('')}`;
}
