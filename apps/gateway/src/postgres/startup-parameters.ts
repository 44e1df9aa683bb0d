import { decide, LEXING_PINS, matchesPin, type CompiledPolicy, type Decision } from '@warden/policy';
import { SqlState } from '@warden/pg-wire';

/**
 * Startup parameters on a guarded connection. Every parameter reaches the target as the client
 * sent it (the agent sends them), so each one is judged here, before the session opens, as what
 * it is: a setting the session starts with.
 *
 * - A lexing pin (LEXING_PINS) asked for with another value is refused with 22023 naming the
 *   parameter and the pinned value: never silently changed or dropped.
 * - Every other setting is judged by the policy as the `SET name TO 'value'` it amounts to, so a
 *   setting no statement may make cannot be made at startup either.
 * - `options` is split and read exactly as the server does (pg_split_opts, then its switches):
 *   `-c name=value`, `-cname=value` and `--name=value` are settings like any other; every other
 *   server switch (-e, -O, -d, ...) is refused with 0A000, since it is not a setting the policy
 *   can judge.
 *
 * Unguarded connections are a transparent proxy: nothing here applies to them.
 */

/** Keys the server reads itself (exact spelling, as in its ProcessStartupPacket) rather than as settings. */
const SERVER_KEYS = new Set(['user', 'database', 'replication', 'options']);

export interface StartupRefusal {
  code: string;
  message: string;
  hint?: string;
}

/** One setting a client asked for at startup, named as it wrote it and where. */
export interface StartupSetting {
  name: string;
  value: string;
  source: 'parameter' | 'options';
}

/**
 * The client's startup parameters judged for a guarded connection: the first refusal, or null
 * when the session may start with all of them.
 */
export function judgeStartupParameters(
  parameters: Record<string, string>,
  policy: CompiledPolicy<Decision>,
): StartupRefusal | null {
  const settings = startupSettings(parameters);
  if ('refusal' in settings) return settings.refusal;
  for (const setting of settings.list) {
    const refusal = judgeSetting(setting, policy);
    if (refusal) return refusal;
  }
  return null;
}

/** The settings a startup packet asks for: its GUC keys, then the settings in its `options`. */
export function startupSettings(
  parameters: Record<string, string>,
): { list: StartupSetting[] } | { refusal: StartupRefusal } {
  const list: StartupSetting[] = [];
  for (const [name, value] of Object.entries(parameters)) {
    // _pq_. keys are protocol options, not settings; the gateway declines them all.
    if (SERVER_KEYS.has(name) || name.startsWith('_pq_.')) continue;
    list.push({ name, value, source: 'parameter' });
  }
  if (parameters.options !== undefined) {
    const switches = optionSettings(splitOptions(parameters.options));
    if ('unsupported' in switches) {
      return {
        refusal: {
          code: SqlState.FEATURE_NOT_SUPPORTED,
          message: `the startup option "${switches.unsupported}" is not supported on this connection: only -c name=value settings can be judged by its policy`,
        },
      };
    }
    list.push(...switches.settings.map((s) => ({ ...s, source: 'options' as const })));
  }
  return { list };
}

function judgeSetting(setting: StartupSetting, policy: CompiledPolicy<Decision>): StartupRefusal | null {
  const name = setting.name.toLowerCase();
  const where = setting.source === 'options' ? `the startup options' "-c ${name}"` : `startup parameter "${name}"`;
  if (Object.hasOwn(LEXING_PINS, name) && !matchesPin(name, setting.value)) {
    return {
      code: SqlState.INVALID_PARAMETER_VALUE,
      message: `${where} must be ${LEXING_PINS[name]} on this connection, not "${setting.value}": its policy pins how SQL text is read`,
      hint: `leave ${name} unset, or set it to ${LEXING_PINS[name]}`,
    };
  }
  const decision = decide(policy, setStatement(name, setting.value));
  if (decision.action === 'allow') return null;
  if (decision.action === 'review') {
    return {
      code: SqlState.INSUFFICIENT_PRIVILEGE,
      message: `${where} needs a review under policy rule "${decision.rule}", which a startup cannot wait for; set it with SET once connected`,
    };
  }
  return {
    code: SqlState.INSUFFICIENT_PRIVILEGE,
    message: `${where} is blocked by policy rule "${decision.rule}": ${decision.message}`,
  };
}

/** The SET statement a startup setting amounts to (the server stores the value as this literal's text). */
export function setStatement(name: string, value: string): string {
  const ident = name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
  return `SET ${ident} TO '${value.replace(/'/g, "''")}'`;
}

/**
 * The words of an `options` string, as the server's pg_split_opts reads them: whitespace
 * separates, a backslash makes the next character literal (libpq writes a space in a value as
 * `\ `), and a trailing backslash is dropped.
 */
export function splitOptions(options: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let escaped = false;
  for (const ch of options) {
    if (escaped) {
      word += ch;
      escaped = false;
    } else if (ch === '\\') {
      escaped = true;
      inWord = true;
    } else if (isCSpace(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** C isspace() in the C locale: the characters pg_split_opts splits on. */
function isCSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
}

/**
 * The settings in `options` words: `-c name=value` (two words), `-cname=value` and
 * `--name=value`, named as the server's ParseLongOption reads them (dashes in the name become
 * underscores). Any other word (another server switch, a cluster such as `-ec`, a bare value,
 * a setting without `=`) is returned as unsupported: reading it exactly would mean modelling
 * every switch of the server, and none of them is a setting the policy can judge.
 */
export function optionSettings(
  words: string[],
): { settings: { name: string; value: string }[] } | { unsupported: string } {
  const settings: { name: string; value: string }[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    let assignment: string | undefined;
    if (word === '-c') assignment = words[++i];
    else if (word.startsWith('-c') || (word.startsWith('--') && word.length > 2)) assignment = word.slice(2);
    const eq = assignment?.indexOf('=') ?? -1;
    if (assignment === undefined || eq <= 0) return { unsupported: word };
    settings.push({ name: assignment.slice(0, eq).replace(/-/g, '_'), value: assignment.slice(eq + 1) });
  }
  return { settings };
}

/** Postgres' parse_bool spellings of false (any prefix of false/off/no is read as false, as `0`). */
const FALSE_WORDS = ['false', 'off', 'no'];

/**
 * Whether a `replication` startup value asks for a replication connection: `database` (logical)
 * or anything Postgres reads as true. Only what it reads as false is a normal session; anything
 * it would not read at all is treated as a request too (refused, never passed on).
 */
export function isReplicationRequest(value: string): boolean {
  // Not trimmed: Postgres' parse_bool reads " off" as no boolean at all (then refused here).
  const v = value.toLowerCase();
  if (v === '0') return false;
  // parse_bool takes unique prefixes: "f", "fa", "n", "of" (not "o", which could be on).
  return !FALSE_WORDS.some((word) => v.length >= (word === 'off' ? 2 : 1) && word.startsWith(v));
}
