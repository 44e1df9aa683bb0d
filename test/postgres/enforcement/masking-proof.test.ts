import { maskingProofAttacks } from '../../support/attack-corpus-masking.js';
import { attackSuite } from '../../support/attack-suite.js';

// Issue 22, class 5, on a least-privilege target role: a statement touching the masked table is
// allowed only if the analyzer understands every path the masked columns can leave by (forward
// CTE references, alias column lists, CREATE TABLE AS EXECUTE, PL/pgSQL targets and subscripts,
// objects defined and then used); what it cannot prove, it refuses. No masked value reaches the
// client or any other table, view, function or setting.
attackSuite('a sound masking proof', () => maskingProofAttacks());
