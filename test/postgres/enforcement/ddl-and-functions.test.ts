import { ddlAttacks, sqlInStringAttacks } from '../../support/attack-corpus-ddl.js';
import { attackSuite } from '../../support/attack-suite.js';

// Issue 22, classes 3 and 4: functions that run SQL text, and DDL that creates code or reach
// (extensions, foreign servers, operators/casts/aggregates over denied functions, event triggers,
// ALTER SYSTEM, role changes, server-side COPY and file reads in every spelling). The default pack
// refuses them; what existed before the session is followed through the target's catalog.
attackSuite('SQL inside strings, code and reach created by DDL', (ctx) => [
  ...sqlInStringAttacks(ctx),
  ...ddlAttacks(ctx),
]);
