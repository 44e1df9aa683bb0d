import { bypass, decisionTable, maskingRules } from './test-tables.js';

decisionTable('bypass: copying data out (CREATE TABLE AS, SELECT INTO, INSERT ... SELECT, SET, COPY)', maskingRules, [
  bypass(
    'CREATE TABLE copy AS SELECT email FROM customers',
    'public.customers.email',
    'email',
    'it would be stored unmasked in a new table by SELECT INTO / CREATE TABLE AS',
  ),
  bypass(
    'CREATE MATERIALIZED VIEW m AS SELECT * FROM customers',
    'public.customers.email',
    '*',
    'it would be stored unmasked in a new table by SELECT INTO / CREATE TABLE AS',
  ),
  bypass(
    'SELECT email INTO copy FROM customers',
    'public.customers.email',
    'email',
    'it would be stored unmasked in a new table by SELECT INTO / CREATE TABLE AS',
  ),
  bypass(
    'INSERT INTO copy SELECT email FROM customers',
    'public.customers.email',
    'email',
    'it would be copied unmasked into another table by INSERT ... SELECT',
  ),
  bypass(
    'INSERT INTO copy (x) VALUES ((SELECT email FROM customers LIMIT 1))',
    'public.customers.email',
    'email',
    'it is selected by a subquery whose value feeds an expression, which is not masked',
  ),
  bypass(
    'UPDATE orders SET note = c.email FROM customers c WHERE c.id = orders.cid',
    'public.customers.email',
    'c.email',
    'it is copied by SET into data that is not masked',
  ),
  bypass(
    'COPY (SELECT email FROM customers) TO STDOUT',
    'public.customers.email',
    'email',
    'it would be sent by COPY, whose output carries no column origin to mask by',
  ),
  bypass(
    'COPY customers TO STDOUT',
    'public.customers.email',
    '*',
    'it would be sent by COPY, whose output carries no column origin to mask by',
  ),
  bypass(
    'COPY customers (id, email) TO STDOUT',
    'public.customers.email',
    'email',
    'it would be sent by COPY, whose output carries no column origin to mask by',
  ),
]);

decisionTable('bypass: writes returning or probing masked values (RETURNING, ON CONFLICT)', maskingRules, [
  bypass(
    "UPDATE customers SET name = 'x' WHERE id = 1 RETURNING email",
    'public.customers.email',
    'email',
    'it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    'DELETE FROM customers WHERE id = 1 RETURNING *',
    'public.customers.email',
    '*',
    'the whole-row value "*" containing it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    "INSERT INTO customers (email) VALUES ('a@b.c') RETURNING customers.email",
    'public.customers.email',
    'customers.email',
    'it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    'WITH d AS (DELETE FROM customers WHERE id = 1 RETURNING email) SELECT * FROM d',
    'public.customers.email',
    'email',
    'it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    "INSERT INTO customers (id, email) VALUES (1, 'x') ON CONFLICT (email) DO NOTHING",
    'public.customers.email',
    'email',
    'it is used for ON CONFLICT detection, which reveals whether a value exists',
  ),
]);

decisionTable(
  'bypass: definitions and wrappers (views, functions, DO, unique indexes, EXPLAIN, PREPARE)',
  maskingRules,
  [
    bypass(
      'CREATE VIEW v AS SELECT email FROM customers',
      'public.customers.email',
      'email',
      'it is used in the body of a view, function, procedure or rule, whose results are not masked',
    ),
    bypass(
      "CREATE FUNCTION f() RETURNS SETOF text LANGUAGE sql AS 'SELECT email FROM customers'",
      'public.customers.email',
      'email',
      'it is used in the body of a view, function, procedure or rule, whose results are not masked',
    ),
    bypass(
      "DO $$ DECLARE r text; BEGIN SELECT email INTO r FROM customers LIMIT 1; RAISE NOTICE '%', r; END $$",
      'public.customers.email',
      'email',
      'it is used in the body of a view, function, procedure or rule, whose results are not masked',
    ),
    bypass(
      'CREATE UNIQUE INDEX ON customers (email)',
      'public.customers.email',
      'email',
      'it is covered by a unique index or constraint, whose violations report the duplicated values',
    ),
    bypass(
      "EXPLAIN SELECT id FROM customers WHERE email = 'x'",
      'public.customers.email',
      'email',
      'it is used in a WHERE condition, and predicates reveal values by binary search',
    ),
    bypass(
      'PREPARE p AS SELECT id FROM customers WHERE email = $1',
      'public.customers.email',
      'email',
      'it is used in a WHERE condition, and predicates reveal values by binary search',
    ),
  ],
);

decisionTable('resolution: schemas, case, ambiguity, catalogs, multi-statement', maskingRules, [
  bypass(
    "SELECT iban FROM accounts WHERE iban = 'x'",
    'billing.accounts.iban',
    'iban',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    "SELECT iban FROM billing.accounts WHERE iban = 'x'",
    'billing.accounts.iban',
    'iban',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    "SELECT id FROM Customers WHERE EMAIL = 'x'",
    'public.customers.email',
    'email',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    "SELECT id FROM customers, orders WHERE email = 'x'",
    'public.customers.email',
    'email',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  [
    "SELECT * FROM pg_stats WHERE tablename = 'customers'",
    'masking',
    'pg_stats exposes samples of column values, which masking cannot cover; it is not allowed on a connection with masked columns',
    'statistics relation pg_stats is refused while column masking is active',
    0,
  ],
  [
    "SELECT query_to_xml('select email from customers', true, false, '')",
    'sql-text',
    'query_to_xml() runs SQL given as text or reads a table named in a string, which Warden cannot judge; it is not allowed on this connection',
    'function query_to_xml matches "query_to_xml*" in the built-in list of SQL-text functions',
    0,
  ],
  bypass(
    'SELECT 1; SELECT lower(email) FROM customers',
    'public.customers.email',
    'email',
    'it is passed to function lower(), whose result is not masked',
    1,
  ),
]);

decisionTable(
  'allowed: plain select-list columns and * arrive masked; writes to masked columns are fine',
  maskingRules,
  [
    ['SELECT email FROM customers', [['public.customers.email', 'domain', 0, 'column']]],
    [
      'SELECT c.email, c.card FROM public.customers c',
      [
        ['public.customers.email', 'domain', 0, 'column'],
        ['public.customers.card', 'redact', 0, 'column'],
      ],
    ],
    [
      'SELECT * FROM customers',
      [
        ['public.customers.email', 'domain', 0, 'star'],
        ['public.customers.card', 'redact', 0, 'star'],
      ],
    ],
    [
      'SELECT c.*, o.total FROM customers c JOIN orders o ON o.cid = c.id',
      [
        ['public.customers.email', 'domain', 0, 'star'],
        ['public.customers.card', 'redact', 0, 'star'],
      ],
    ],
    ["SELECT id, name FROM customers WHERE name LIKE 'a%' ORDER BY id", 'allow'],
    ['SELECT e FROM (SELECT email AS e FROM customers) s', [['public.customers.email', 'domain', 0, 'column']]],
    [
      'WITH c AS (SELECT * FROM customers) SELECT * FROM c',
      [
        ['public.customers.email', 'domain', 0, 'star'],
        ['public.customers.card', 'redact', 0, 'star'],
      ],
    ],
    ['SELECT x.* FROM customers c, LATERAL (SELECT c.email) x', [['public.customers.email', 'domain', 0, 'star']]],
    ['SELECT o.id FROM orders o WHERE EXISTS (SELECT * FROM customers c WHERE c.id = o.cid)', 'allow'],
    ['SELECT count(*) FROM customers', 'allow'],
    ["UPDATE customers SET email = 'x@y.z' WHERE id = 1", 'allow'],
    ["INSERT INTO customers (id, email) VALUES (1, 'a@b.c')", 'allow'],
    ['COPY customers (id, name) TO STDOUT', 'allow'],
    ['COPY customers FROM STDIN', 'allow'],
    ['DECLARE cur CURSOR FOR SELECT email FROM customers', [['public.customers.email', 'domain', 0, 'column']]],
    ["SELECT iban FROM other.accounts WHERE iban = 'x'", 'allow'],
    ["WITH customers AS (SELECT 'x' AS email) SELECT email FROM customers WHERE email = 'x'", 'allow'],
    [
      'SELECT email FROM customers; SELECT * FROM customers',
      [
        ['public.customers.email', 'domain', 0, 'column'],
        ['public.customers.email', 'domain', 1, 'star'],
        ['public.customers.card', 'redact', 1, 'star'],
      ],
    ],
  ],
);

decisionTable('DDL on masked tables and opaque code', maskingRules, [
  [
    'ALTER TABLE customers RENAME COLUMN email TO e',
    'masking',
    'customers has masked columns; ALTER RENAME on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'ALTER TABLE customers RENAME TO c2',
    'masking',
    'customers has masked columns; ALTER RENAME on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'ALTER TABLE public.customers SET SCHEMA x',
    'masking',
    'public.customers has masked columns; ALTER OBJECT SCHEMA on it could rename, move, copy or expose them outside masking',
    'DDL on masked table public.customers is refused while column masking is active',
    0,
  ],
  [
    'ALTER TABLE customers INHERIT parent',
    'masking',
    'customers has masked columns; ALTER TABLE on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'ALTER TABLE parted ATTACH PARTITION customers FOR VALUES IN (1)',
    'masking',
    'customers has masked columns; ALTER TABLE on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'CREATE TRIGGER t AFTER UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION f()',
    'masking',
    'customers has masked columns; CREATE TRIGGER on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'CREATE PUBLICATION p FOR TABLE customers',
    'masking',
    'customers has masked columns; CREATE PUBLICATION on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'GRANT SELECT ON customers TO x',
    'masking',
    'customers has masked columns; GRANT on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    'CREATE RULE r AS ON SELECT TO customers DO INSTEAD SELECT 1',
    'masking',
    'customers has masked columns; CREATE RULE on it could rename, move, copy or expose them outside masking',
    'DDL on masked table customers is refused while column masking is active',
    0,
  ],
  [
    "DO $$ DECLARE r text; BEGIN EXECUTE 'SELECT email FROM customers LIMIT 1' INTO r; RAISE NOTICE '%', r; END $$",
    'masking',
    'this statement contains code Warden cannot inspect (DO block: dynamic SQL (EXECUTE)), which could read masked columns; refusing it (fail closed)',
    'opaque code is refused while column masking is active',
    0,
  ],
  [
    "CREATE FUNCTION f() RETURNS text LANGUAGE plpython3u AS 'return 1'",
    'masking',
    'this statement contains code Warden cannot inspect (function f in language plpython3u), which could read masked columns; refusing it (fail closed)',
    'opaque code is refused while column masking is active',
    0,
  ],
  ['DROP TABLE customers', 'allow'],
  ['TRUNCATE customers', 'allow'],
  ['CREATE INDEX ON customers (name)', 'allow'],
  ['ALTER TABLE other.customers RENAME TO y', 'allow'],
  ['ALTER TABLE orders ADD COLUMN x int', 'allow'],
]);
