import type { StatementAnalysis } from '../analyze/types.js';
import { describeChange } from '../session/setting-changes.js';
import { anyGlob, globMatcher } from './glob.js';
import type { Violation } from './guardrails.js';
import type { DenySettingsRule } from './schemas.js';

/**
 * deny_settings: refuses changing a named setting by any route (SET, set_config(), a routine's SET
 * clause, ALTER ROLE/DATABASE/SYSTEM). A session RESET goes back to the connection's startup value
 * and is allowed. A change whose setting name is not in the text (`set_config(expr, ...)`, an
 * UPDATE of pg_settings) or that covers every setting (`ALTER ROLE ... RESET ALL`) is refused by
 * every deny_settings rule (fail closed).
 */
export function denySettings(rule: DenySettingsRule): (stmt: StatementAnalysis) => Violation | undefined {
  const matches = anyGlob(rule.parameters);
  const patternOf = (name: string) => rule.parameters.find((p) => globMatcher(p)(name)) ?? name;
  return (stmt) => {
    for (const change of stmt.settings) {
      if (change.via === 'reset') continue;
      if (change.name === undefined || change.name === 'all') {
        const what = change.name === 'all' ? `${describeChange(change)} ALL` : describeChange(change);
        const why = `${what} changes settings the statement does not name, which could include ${rule.parameters.join(', ')}; refusing it (fail closed)`;
        return {
          message: rule.message === undefined ? why : `${rule.message}: ${why}`,
          detail: `${what} is refused by rule "${rule.name}": the settings it changes are not named in the statement`,
        };
      }
      if (!matches(change.name)) continue;
      return {
        message: rule.message ?? `changing ${change.name} is not allowed on this connection`,
        detail: `${describeChange(change)} of ${change.name} matches "${patternOf(change.name)}" in rule "${rule.name}"`,
      };
    }
    return undefined;
  };
}
