import { writeAllAttacks } from '../../support/attack-corpus-ddl.js';
import { attackSuite } from '../../support/attack-suite.js';

// Issue 22, class 7: UPDATE/DELETE/MERGE that pass the WHERE rule by syntax but touch every row
// are rolled back by the gateway's max_rows_affected guard (42501 naming the rule); the table
// keeps all its rows, unchanged.
attackSuite('writes that hit everything', () => writeAllAttacks());
