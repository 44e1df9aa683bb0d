import { randomBytes } from 'node:crypto';
import { protocolAttacks } from '../../support/attack-corpus.js';
import { forgedCounterAttacks } from '../../support/attack-corpus-masking.js';
import { attackSuite, type EnforcementRun } from '../../support/attack-suite.js';
import type { Attack } from '../../support/attack-corpus.js';
import type { AttackResult } from '../../support/attack-runner.js';

// Issue 22, class 2: FunctionCall by OID (of pg_read_file, set_config, lo_import, query_to_xml, a
// function returning a masked column) and replication startups are refused on a guarded
// connection. Class 8: a NoticeResponse with code WMASK raised by the target is the target's own
// notice: it reaches the client and adds nothing to the session's masked-cell counts.
const forgedKey = `forged_${randomBytes(4).toString('hex')}`;

async function forgedCountsIgnored(run: EnforcementRun, attack: Attack, result: AttackResult): Promise<string[]> {
  if (attack.class !== 8) return [];
  const problems: string[] = [];
  if (!result.received.includes(forgedKey)) problems.push('the client did not receive its own WMASK notice');
  // The session record is written when the session closes.
  const deadline = Date.now() + 5000;
  for (;;) {
    const sessions = await run.dp.api.db.prisma.session.findMany({ select: { maskedCells: true, status: true } });
    const forged = sessions.filter((s) => JSON.stringify(s.maskedCells ?? {}).includes(forgedKey));
    if (forged.length)
      return [...problems, `a session counted the forged report: ${JSON.stringify(forged[0]!.maskedCells)}`];
    if (sessions.every((s) => s.status !== 'active') || Date.now() > deadline) return problems;
    await new Promise((r) => setTimeout(r, 200));
  }
}

attackSuite(
  'unjudged protocol messages and the masking counter',
  (ctx) => [...protocolAttacks(ctx), ...forgedCounterAttacks(forgedKey)],
  forgedCountsIgnored,
);
