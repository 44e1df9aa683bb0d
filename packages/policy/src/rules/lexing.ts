import type { SettingChange, StatementAnalysis } from '../analyze/types.js';
import { LEXING_PINS, matchesPin } from '../session/contract.js';
import { describeChange as viaText } from '../session/setting-changes.js';
import type { Violation } from './guardrails.js';

/** The built-in check's rule name in block decisions. */
export const LEXING_RULE = 'lexing';

const PINNED = Object.keys(LEXING_PINS);
const WHY = "so that Warden's parser and the server read SQL text the same way";
const pinned = (name: string) => `${name} is pinned to '${LEXING_PINS[name] ?? ''}' on this connection ${WHY}`;

/**
 * Refuses every change to a setting that decides how SQL text is lexed (session/contract.ts). A
 * session-level RESET is allowed: the session's startup values are the pins. Changing a pinned
 * setting's default (ALTER ROLE/DATABASE/SYSTEM), a routine's SET clause for one, or a set_config()
 * whose setting name is not a literal are refused, whatever the value.
 */
export function lexingViolation(stmt: StatementAnalysis): Violation | undefined {
  for (const change of stmt.settings) {
    const v = violation(change);
    if (v) return v;
  }
  return undefined;
}

function violation(change: SettingChange): Violation | undefined {
  const { name, via } = change;
  if (via === 'reset') return undefined;
  if (name === undefined) {
    return {
      message: `this statement changes a setting whose name is not written in it (${viaText(change)}); it could change ${PINNED.join(', ')}, which are pinned ${WHY}; refusing it (fail closed)`,
      detail: `${viaText(change)} with a setting name that is not a literal is refused by the built-in lexing check`,
    };
  }
  if (name === 'all') {
    return {
      message: `${viaText(change)} would also change ${PINNED.join(', ')}, which are pinned ${WHY}`,
      detail: `${viaText(change)} covers the pinned settings ${PINNED.join(', ')}`,
    };
  }
  if (!(name in LEXING_PINS)) return undefined;
  if ((via === 'set' || via === 'set_config') && change.value !== undefined && matchesPin(name, change.value)) {
    return undefined;
  }
  const what =
    via === 'set' || via === 'set_config'
      ? change.value === undefined
        ? `setting ${name} to a value that is not a literal`
        : `setting ${name} to '${change.value}'`
      : `${viaText(change)} of ${name}`;
  return {
    message: `${pinned(name)}; ${what} is not allowed`,
    detail: `${viaText(change)} of pinned setting ${name} is refused by the built-in lexing check`,
  };
}
