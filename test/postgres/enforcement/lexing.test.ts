import { lexingAttacks } from '../../support/attack-corpus.js';
import { attackSuite } from '../../support/attack-suite.js';

// Issue 22, class 1: the gateway's parser and the server read the same text the same way. Every
// way of changing standard_conforming_strings, backslash_quote or client_encoding (SET, RESET,
// set_config, startup options, ALTER ROLE/DATABASE ... SET, a function's SET clause) is refused;
// the smuggled COPY ... TO PROGRAM after it never runs (its marker file is absent).
attackSuite('parser differentials', lexingAttacks);
