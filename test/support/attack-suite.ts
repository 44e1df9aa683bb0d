import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attack, AttackClass, CorpusContext } from './attack-corpus.js';
import { judge, runAttack, type AttackResult } from './attack-runner.js';
import { startEnforcement, stopEnforcement, type EnforcementRun } from './enforcement-target.js';

export { startEnforcement, stopEnforcement, type EnforcementRun };

/** Stand-ins for collecting test names: attack ids never depend on the context. */
const NAMING_CONTEXT: CorpusContext = {
  marker: '/tmp/marker',
  secretFile: '/tmp/secret',
  appRole: 'app',
  targetDb: 'db',
  oids: { pgReadFile: 0, secretOf: 0, setConfig: 0, loImport: 0, queryToXml: 0 },
};

/**
 * Declares one test per attack of `build`, grouped by class. Each test restores the target, runs
 * the attack through the tap in front of the real gateway, and expects no problem from judge():
 * the expected refusals, no canary anywhere, no side effect. `extra` adds checks of its own.
 */
export function attackSuite(
  title: string,
  build: (ctx: CorpusContext) => Attack[],
  extra?: (run: EnforcementRun, attack: Attack, result: AttackResult) => Promise<string[]>,
): void {
  let run: EnforcementRun | undefined;
  let attacks = new Map<string, Attack>();
  beforeAll(async () => {
    run = await startEnforcement();
    attacks = new Map(build(run.ctx).map((a) => [a.id, a]));
  });
  afterAll(async () => {
    await stopEnforcement(run);
  });
  const named = build(NAMING_CONTEXT);
  const classes = [...new Set(named.map((a) => a.class))] as AttackClass[];
  describe(title, () => {
    for (const cls of classes) {
      describe(`class ${cls}`, () => {
        for (const a of named.filter((x) => x.class === cls)) {
          it(`${a.id}: ${a.title} [${a.profile}, ${a.transport}]`, async () => {
            const attack = attacks.get(a.id)!;
            await run!.target.reset();
            const result = await runAttack(run!.target, attack);
            const problems = await judge(run!.target, attack, result);
            if (extra) problems.push(...(await extra(run!, attack, result)));
            expect(problems).toEqual([]);
          });
        }
      });
    }
  });
}
