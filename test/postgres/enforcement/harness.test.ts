import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scsSmuggle, type Attack } from '../../support/attack-corpus.js';
import { maskingProofAttacks, sideChannelAttacks } from '../../support/attack-corpus-masking.js';
import { judge, runAttack } from '../../support/attack-runner.js';
import { startEnforcement, stopEnforcement, type EnforcementRun } from '../../support/attack-suite.js';

// The enforcement suites pass only if their checks can fail: through a connection with no policy
// (`open`, the superuser), the same routes leak, and judge() must say so.
let run: EnforcementRun | undefined;
beforeAll(async () => {
  run = await startEnforcement();
});
afterAll(async () => {
  await stopEnforcement(run);
});

async function problemsOf(attack: Omit<Attack, 'id' | 'class' | 'title'>): Promise<string[]> {
  const full: Attack = { id: 'self-check', class: 1, title: 'self-check', ...attack };
  await run!.target.reset();
  return judge(run!.target, full, await runAttack(run!.target, full));
}

describe('the enforcement checks detect what they look for', () => {
  it('a smuggled COPY TO PROGRAM creates the marker when standard_conforming_strings is off', async () => {
    const problems = await problemsOf({
      profile: 'open',
      transport: 'simple',
      steps: [
        { sql: 'SET standard_conforming_strings = off' },
        { sql: scsSmuggle(`COPY (SELECT 1) TO PROGRAM $m$touch ${run!.ctx.marker}$m$`) },
      ],
    });
    expect(problems.join('\n')).toMatch(/marker file/);
  });

  it.each(['simple', 'binary', 'psql', 'raw', 'pipeline'] as const)(
    'masked and detector canaries in results are found (%s)',
    async (transport) => {
      const problems = await problemsOf({
        profile: 'open',
        transport,
        steps: [{ sql: 'SELECT reverse(secret), email, card FROM customers' }],
      });
      const text = problems.join('\n');
      expect(text).toMatch(/customers\.secret reversed/);
      expect(text).toMatch(/email \(/);
      expect(text).toMatch(/card number/);
    },
  );

  it('canaries in error details, notices and notifications are found', async () => {
    const problems = await problemsOf({
      profile: 'open',
      transport: 'simple',
      steps: [
        { sql: `UPDATE customers_active SET note = 'blocked' WHERE id = 1` },
        { sql: `DO $$ BEGIN RAISE NOTICE 'x' USING DETAIL = (SELECT token FROM customers WHERE id = 1); END $$` },
        { sql: 'LISTEN c' },
        { sql: `SELECT pg_notify('c', md5(token)) FROM customers WHERE id = 2` },
      ],
    });
    const text = problems.join('\n');
    expect(text).toMatch(/customers\.secret as is/);
    expect(text).toMatch(/customers\.token/);
    expect(text).toMatch(/customers\.token md5/);
  });

  it('canaries copied into other tables, settings and function bodies are found', async () => {
    const problems = await problemsOf({
      profile: 'open',
      transport: 'simple',
      steps: [
        { sql: 'INSERT INTO sink SELECT upper(secret) FROM customers' },
        {
          sql: `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET application_name = %L', current_database(), (SELECT token FROM customers LIMIT 1)); END $$`,
        },
        { sql: `COPY sink FROM '${run!.ctx.secretFile}'` },
      ],
      checks: ['sink-empty'],
    });
    const text = problems.join('\n');
    expect(text).toMatch(/table public\.sink: customers\.secret upper-cased/);
    expect(text).toMatch(/role\/database setting/);
    expect(text).toMatch(/server file/);
  });

  // Every class 5 and 6 route in the corpus is live: with nothing enforcing, it leaks.
  const routes = [...maskingProofAttacks(), ...sideChannelAttacks()].filter(
    (a) => a.id !== '5.masked-reads-still-work' && a.id !== '6.stats.masked' && !a.id.endsWith('.raw'),
  );
  it.each(routes.map((a) => [a.id, a] as const))('route %s leaks when nothing enforces', async (_id, attack) => {
    const problems = await problemsOf({
      ...attack,
      profile: 'open',
      steps: attack.steps.map((s) => ({ ...s, expect: 'any' as const })),
    });
    expect(problems.filter((p) => /received|holds a canary/.test(p))).not.toEqual([]);
  });
});
