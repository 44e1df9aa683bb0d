import { describe, expect, it } from 'vitest';
import { compilePolicy, decide } from './index.js';
import { bypass, decisionTable, maskingRules } from './test-tables.js';

const EMAIL = 'public.customers.email';
const EMAIL_ROW: Array<[string, string, number, 'column' | 'star']> = [[EMAIL, 'domain', 0, 'column']];
const STAR_ROWS: Array<[string, string, number, 'column' | 'star']> = [
  [EMAIL, 'domain', 0, 'star'],
  ['public.customers.card', 'redact', 0, 'star'],
];
const STAR_COLUMN_ROWS: Array<[string, string, number, 'column' | 'star']> = [
  [EMAIL, 'domain', 0, 'column'],
  ['public.customers.card', 'redact', 0, 'column'],
];
const FUNCTION_LOWER = 'it is passed to function lower(), whose result is not masked';
const STORED = 'it would be stored unmasked in a new table by SELECT INTO / CREATE TABLE AS';
const INSERTED = 'it would be copied unmasked into another table by INSERT ... SELECT';

decisionTable('WITH RECURSIVE: forward and self references resolve to what the CTE outputs', maskingRules, [
  [
    'WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT email FROM customers) SELECT * FROM a',
    [[EMAIL, 'domain', 0, 'star']],
  ],
  bypass(
    'WITH RECURSIVE a AS (SELECT x FROM b), b(x) AS (SELECT email FROM customers) SELECT lower(x) FROM a',
    EMAIL,
    'x',
    FUNCTION_LOWER,
  ),
  bypass(
    'WITH RECURSIVE a AS (SELECT x FROM b), b(x) AS (SELECT email FROM customers) INSERT INTO t SELECT x FROM a',
    EMAIL,
    'x',
    INSERTED,
  ),
  // A chain of forward references, three deep, needs several rounds to settle.
  bypass(
    'WITH RECURSIVE a AS (SELECT y FROM b), b AS (SELECT y FROM c), c(y) AS (SELECT email FROM customers) SELECT md5(y) FROM a',
    EMAIL,
    'y',
    'it is passed to function md5(), whose result is not masked',
  ),
  bypass(
    'WITH RECURSIVE a(x) AS (SELECT email FROM customers UNION ALL SELECT x FROM a) SELECT x FROM a',
    EMAIL,
    'email',
    'it is selected in a UNION/INTERSECT/EXCEPT branch, whose result carries no column origin to mask by',
  ),
  ['WITH RECURSIVE a(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM a WHERE n < 3) SELECT n FROM a', 'allow'],
  // SEARCH/CYCLE add a column holding the listed columns' values.
  bypass(
    'WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT email FROM customers) SEARCH DEPTH FIRST BY email SET ord SELECT * FROM a',
    EMAIL,
    'email',
    'it is used inside SEARCH clause, whose result is not masked',
  ),
  // Non-recursive WITH: a later sibling's name is not visible, so `customers` is the table.
  bypass(
    "WITH a AS (SELECT email FROM customers), customers AS (SELECT 'x' AS email) SELECT lower(email) FROM a",
    EMAIL,
    'email',
    FUNCTION_LOWER,
  ),
  ["WITH customers AS (SELECT 'x' AS email) SELECT lower(email) FROM customers", 'allow'],
  // An inner WITH shadows an outer CTE of the same name, and only inside.
  [
    "WITH a AS (SELECT email FROM customers) SELECT lower(s.email) FROM (WITH a AS (SELECT 'x' AS email) SELECT email FROM a) s",
    'allow',
  ],
  bypass(
    "WITH a AS (SELECT email FROM customers) SELECT lower(s.email) FROM (WITH b AS (SELECT 'x' AS email) SELECT email FROM a) s",
    EMAIL,
    's.email',
    FUNCTION_LOWER,
  ),
  ['WITH x(a) AS (SELECT email FROM customers) SELECT a FROM x', EMAIL_ROW],
  bypass(
    'WITH x(a) AS (SELECT email FROM customers) SELECT upper(a) FROM x',
    EMAIL,
    'a',
    'it is passed to function upper(), whose result is not masked',
  ),
]);

decisionTable('column alias lists: positions the text cannot map may be any column', maskingRules, [
  ['SELECT j.x FROM (customers c JOIN orders o ON true) AS j(x, y)', STAR_COLUMN_ROWS],
  bypass('SELECT lower(j.x) FROM (customers c JOIN orders o ON true) AS j(x, y)', EMAIL, 'j.x', FUNCTION_LOWER),
  bypass('SELECT lower(x) FROM (customers c JOIN orders o ON true) AS j(x)', EMAIL, 'x', FUNCTION_LOWER),
  // Columns past the list keep their names: `j.email` may still be customers.email.
  bypass('SELECT lower(j.email) FROM (customers c JOIN orders o ON true) AS j(x)', EMAIL, 'j.email', FUNCTION_LOWER),
  ['SELECT lower(j.note) FROM (customers c JOIN orders o ON true) AS j(x)', 'allow'],
  bypass('SELECT lower(y.a) FROM (SELECT c.* FROM customers c) AS y(a)', EMAIL, 'y.a', FUNCTION_LOWER),
  bypass('SELECT lower(x) FROM customers AS c(x)', EMAIL, 'x', FUNCTION_LOWER),
  // Fewer names than columns: the first is renamed, the second keeps its name.
  ['SELECT lower(s.a), s.email FROM (SELECT name, email FROM customers) AS s(a)', EMAIL_ROW],
  bypass(
    'SELECT s.a, lower(s.email) FROM (SELECT name, email FROM customers) AS s(a)',
    EMAIL,
    's.email',
    FUNCTION_LOWER,
  ),
  ['SELECT lower(f.x) FROM json_to_record(\'{"x": "a"}\') AS f(x text)', 'allow'],
  ['SELECT lower(v.email) FROM (VALUES (1)) AS v(email)', 'allow'],
  bypass(
    'SELECT * FROM (VALUES ((SELECT email FROM customers LIMIT 1))) AS v(e)',
    EMAIL,
    'email',
    'it is selected by a subquery whose value feeds an expression, which is not masked',
  ),
  bypass(
    'SELECT u.email FROM customers c JOIN orders o USING (email) AS u',
    EMAIL,
    'email',
    'it is used in a join condition, which compares its values',
  ),
]);

decisionTable('EXECUTE of a prepared statement: to the client only', maskingRules, [
  ['EXECUTE p', 'allow'],
  ['EXECUTE p (1, 2)', 'allow'],
  ['EXPLAIN ANALYZE EXECUTE p', 'allow'],
  [
    'CREATE TABLE x AS EXECUTE p',
    'masking',
    `"EXECUTE p" may return any column, including masked ones such as ${EMAIL}, and Warden cannot see which: ${STORED}; its rows may only go to the client`,
    '"EXECUTE p" returns columns not named in this statement while column masking is active',
    0,
    EMAIL,
  ],
  [
    'EXPLAIN ANALYZE CREATE TABLE x AS EXECUTE p',
    'masking',
    `"EXECUTE p" may return any column, including masked ones such as ${EMAIL}, and Warden cannot see which: ${STORED}; its rows may only go to the client`,
    '"EXECUTE p" returns columns not named in this statement while column masking is active',
    0,
    EMAIL,
  ],
  [
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'EXECUTE p'",
    'masking',
    `"EXECUTE p" may return any column, including masked ones such as ${EMAIL}, and Warden cannot see which: it is used in the body of a view, function, procedure or rule, whose results are not masked; its rows may only go to the client`,
    '"EXECUTE p" returns columns not named in this statement while column masking is active',
    0,
    EMAIL,
  ],
]);

describe('EXECUTE without column rules', () => {
  it('CREATE TABLE AS EXECUTE is not a masking matter when no column is masked', () => {
    const policy = compilePolicy({ masking: { columns: [] } }, 1);
    expect(decide(policy, 'CREATE TABLE x AS EXECUTE p').action).toBe('allow');
  });
});

decisionTable('attribute notation: c.f is f(c) on the whole row when c has no column f', maskingRules, [
  bypass(
    'SELECT c.row_to_json FROM customers c',
    EMAIL,
    'c.row_to_json',
    'the whole-row value "c.row_to_json" containing it is passed to function row_to_json(), whose result is not masked',
  ),
  bypass(
    'SELECT customers.to_jsonb FROM customers',
    EMAIL,
    'customers.to_jsonb',
    'the whole-row value "customers.to_jsonb" containing it is passed to function to_jsonb(), whose result is not masked',
  ),
  bypass(
    "SELECT 1 FROM customers c WHERE c.concat LIKE '%@%'",
    EMAIL,
    'c.concat',
    'the whole-row value "c.concat" containing it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  // A derived relation's columns are known: any other name is a function of its row.
  bypass(
    'SELECT s.whatever FROM (SELECT email FROM customers) s',
    EMAIL,
    's.whatever',
    'the whole-row value "s.whatever" containing it is passed to function whatever(), whose result is not masked',
  ),
  ['SELECT s.email FROM (SELECT email FROM customers) s', EMAIL_ROW],
  // Postgres names this column `int4`; the analysis does not derive it, so only listed functions count.
  ['SELECT s.int4, s.email FROM (SELECT email, 1::int FROM customers) s', EMAIL_ROW],
  bypass(
    'SELECT (c).email FROM customers c',
    EMAIL,
    'c',
    'the whole-row value "c" containing it is used inside field or subscript access, whose result is not masked',
  ),
  // `email.x` may be field x of a composite column email.
  bypass(
    'SELECT email.x FROM customers',
    EMAIL,
    'email.x',
    'it is used inside field access, whose result is not masked',
  ),
  ['SELECT c.id, c.name FROM customers c', 'allow'],
]);

decisionTable('equality and ordering oracles through the select list', maskingRules, [
  bypass(
    'SELECT DISTINCT email FROM customers',
    EMAIL,
    'email',
    'it is used in SELECT DISTINCT, which reveals which rows share a value',
  ),
  bypass(
    'SELECT DISTINCT * FROM (SELECT email FROM customers) s',
    EMAIL,
    '*',
    'it is used in SELECT DISTINCT, which reveals which rows share a value',
  ),
  bypass(
    'SELECT * FROM (SELECT DISTINCT email FROM customers) s',
    EMAIL,
    'email',
    'it is used in SELECT DISTINCT, which reveals which rows share a value',
  ),
  ['SELECT DISTINCT name FROM customers', 'allow'],
  ['SELECT DISTINCT ON (id) email FROM customers ORDER BY id', EMAIL_ROW],
  bypass(
    'SELECT email FROM customers GROUP BY ROLLUP (1)',
    EMAIL,
    '1',
    'it is used in GROUP BY, which reveals which rows share a value',
  ),
  bypass(
    'SELECT email AS e FROM customers GROUP BY GROUPING SETS ((e), ())',
    EMAIL,
    'e',
    'it is used in GROUP BY, which reveals which rows share a value',
  ),
  bypass(
    'SELECT email AS e FROM customers ORDER BY e',
    EMAIL,
    'e',
    'it is used in ORDER BY, which reveals the order of its values',
  ),
  bypass(
    'SELECT email, count(*) OVER (ORDER BY email ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM customers',
    EMAIL,
    'email',
    'it is used in window function count(), whose result is not masked',
  ),
  bypass(
    "SELECT id FROM customers WHERE (id, email) > (1, 'a')",
    EMAIL,
    'email',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  ['SELECT email FROM customers LIMIT (SELECT 1) OFFSET (SELECT 0)', EMAIL_ROW],
  bypass(
    "SELECT id FROM customers LIMIT (SELECT count(*) FROM customers WHERE email > 'm')",
    EMAIL,
    'email',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    'SELECT email FROM customers NATURAL JOIN orders',
    EMAIL,
    'customers',
    'the whole-row value "customers" containing it is used in a join condition, which compares its values',
  ),
]);

decisionTable('relations in FROM and set operations', maskingRules, [
  ['SELECT * FROM (SELECT email FROM customers) s', [[EMAIL, 'domain', 0, 'star']]],
  ['TABLE customers', STAR_ROWS],
  ['SELECT l.x FROM customers c, LATERAL (SELECT c.email AS x) l', EMAIL_ROW],
  bypass(
    "SELECT * FROM (SELECT email FROM customers UNION ALL SELECT 'x') s",
    EMAIL,
    'email',
    'it is selected in a UNION/INTERSECT/EXCEPT branch, whose result carries no column origin to mask by',
  ),
  bypass(
    'SELECT * FROM customers c, ROWS FROM (upper(c.email)) r',
    EMAIL,
    'c.email',
    'it is passed to a function in FROM, whose output is not masked',
  ),
  bypass(
    "SELECT jt.a FROM customers c, JSON_TABLE(to_jsonb(c.email), '$' COLUMNS (a text PATH '$')) jt",
    EMAIL,
    'c.email',
    'it is passed to a function in FROM, whose output is not masked',
  ),
  bypass(
    "SELECT x.a FROM customers c, XMLTABLE('/r' PASSING xmlelement(name r, c.email) COLUMNS a text PATH '.') x",
    EMAIL,
    'c.email',
    'it is passed to a function in FROM, whose output is not masked',
  ),
  bypass(
    'INSERT INTO t SELECT 1 RETURNING (SELECT email FROM customers LIMIT 1)',
    EMAIL,
    'email',
    'it is selected by a subquery whose value feeds an expression, which is not masked',
  ),
  bypass(
    'WITH d AS (INSERT INTO archive SELECT id FROM customers RETURNING (SELECT email FROM customers LIMIT 1)) SELECT * FROM d',
    EMAIL,
    'email',
    'it is selected by a subquery whose value feeds an expression, which is not masked',
  ),
  bypass(
    "UPDATE customers SET name = 'x' WHERE id = 1 RETURNING old.email",
    EMAIL,
    'old.email',
    'it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    "UPDATE customers SET name = 'x' WHERE id = 1 RETURNING WITH (OLD AS o) o.email",
    EMAIL,
    'o.email',
    'it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    'UPDATE orders o SET total = 1 FROM customers c WHERE c.id = o.cid RETURNING *',
    EMAIL,
    '*',
    'the whole-row value "*" containing it is returned by a RETURNING clause, whose output is not masked',
  ),
  bypass(
    "MERGE INTO customers c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN UPDATE SET name = 'x' RETURNING merge_action(), c.email",
    EMAIL,
    'c.email',
    'it is returned by a RETURNING clause, whose output is not masked',
  ),
]);

decisionTable('COPY in binary format cannot be read by detectors', maskingRules, [
  ...[
    'COPY customers (id) TO STDOUT (FORMAT binary)',
    'COPY orders TO STDOUT BINARY',
    'COPY BINARY orders TO STDOUT',
    'COPY (SELECT 1) TO STDOUT WITH BINARY',
  ].map((sql): [string, string, string, string, number] => [
    sql,
    'masking',
    'COPY ... TO STDOUT in binary format cannot be masked (detectors read text); use the text or CSV format',
    'binary COPY to the client is refused while masking is active',
    0,
  ]),
  ['COPY orders TO STDOUT (FORMAT csv)', 'allow'],
  ['COPY orders FROM STDIN (FORMAT binary)', 'allow'],
]);

decisionTable(
  'binary COPY with detectors only',
  { masking: { detectors: [{ detector: 'us_ssn', strategy: 'redact' }] } },
  [
    [
      'COPY orders TO STDOUT (FORMAT binary)',
      'masking',
      'COPY ... TO STDOUT in binary format cannot be masked (detectors read text); use the text or CSV format',
      'binary COPY to the client is refused while masking is active',
      0,
    ],
    ['COPY orders TO STDOUT', 'allow'],
  ],
);

describe('COPY format in the analysis', () => {
  it.each([
    ['COPY t TO STDOUT', 'text'],
    ['COPY t TO STDOUT (FORMAT csv)', 'csv'],
    ['COPY t TO STDOUT CSV HEADER', 'csv'],
    ['COPY t TO STDOUT (FORMAT binary)', 'binary'],
    ['COPY t TO STDOUT WITH BINARY', 'binary'],
    ['COPY BINARY t TO STDOUT', 'binary'],
  ])('%s → %s', async (sql, format) => {
    const { analyze } = await import('./index.js');
    const result = analyze(sql);
    expect(result.ok && result.statements[0]?.copy?.format).toBe(format);
  });
});
