import { sideChannelAttacks } from '../../support/attack-corpus-masking.js';
import { attackSuite } from '../../support/attack-suite.js';

// Issue 22, class 6: masked values and detector-shaped values do not reach the client through error
// DETAIL/CONTEXT (check option, constraints, exclusion keys, trigger RAISE), notices, notifications,
// binary result formats (composite, array, text-like, json, xml, tsvector/tsquery), COPY in text,
// csv and binary, or the anyarray columns of pg_stats.
attackSuite('values in errors and side channels', () => sideChannelAttacks());
