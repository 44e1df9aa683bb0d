import { bypass, decisionTable, maskingRules } from './test-tables.js';

decisionTable('bypass: inside a function, cast, operator, aggregate or other expression', maskingRules, [
  bypass(
    'SELECT lower(email) FROM customers',
    'public.customers.email',
    'email',
    'it is passed to function lower(), whose result is not masked',
  ),
  bypass(
    'SELECT email::text FROM customers',
    'public.customers.email',
    'email',
    'it is cast to text; casts return unmasked values and their errors echo them',
  ),
  bypass(
    'SELECT CAST(card AS bigint) FROM customers',
    'public.customers.card',
    'card',
    'it is cast to pg_catalog.int8; casts return unmasked values and their errors echo them',
  ),
  bypass(
    "SELECT email || '' FROM customers",
    'public.customers.email',
    'email',
    'it is used with operator ||, whose result is not masked',
  ),
  bypass(
    'SELECT email IS NULL FROM customers',
    'public.customers.email',
    'email',
    'it is used inside IS NULL test, whose result is not masked',
  ),
  bypass(
    'SELECT max(email) FROM customers',
    'public.customers.email',
    'email',
    'it is aggregated by max(), whose result is not masked',
  ),
  bypass(
    'SELECT count(DISTINCT email) FROM customers',
    'public.customers.email',
    'email',
    'it is aggregated by count(), whose result is not masked',
  ),
  bypass(
    "SELECT string_agg(name, ',' ORDER BY email) FROM customers",
    'public.customers.email',
    'email',
    'it is aggregated by string_agg(), whose result is not masked',
  ),
  bypass(
    'SELECT row_number() OVER (ORDER BY email) FROM customers',
    'public.customers.email',
    'email',
    'it is used in window function row_number(), whose result is not masked',
  ),
  bypass(
    "SELECT CASE WHEN email LIKE 'a%' THEN 1 END FROM customers",
    'public.customers.email',
    'email',
    'it is used with operator LIKE, whose result is not masked',
  ),
  bypass(
    "SELECT coalesce(email, 'x') FROM customers",
    'public.customers.email',
    'email',
    'it is used inside COALESCE, whose result is not masked',
  ),
  bypass(
    'SELECT email COLLATE "C" FROM customers',
    'public.customers.email',
    'email',
    'it is used inside COLLATE, whose result is not masked',
  ),
]);

decisionTable('bypass: whole-row references', maskingRules, [
  bypass(
    'SELECT row_to_json(c) FROM customers c',
    'public.customers.email',
    'c',
    'the whole-row value "c" containing it is passed to function row_to_json(), whose result is not masked',
  ),
  bypass(
    'SELECT to_jsonb(c.*) FROM customers c',
    'public.customers.email',
    'c.*',
    'the whole-row value "c.*" containing it is passed to function to_jsonb(), whose result is not masked',
  ),
  bypass(
    'SELECT c FROM customers c',
    'public.customers.email',
    'c',
    'the whole-row value "c" containing it would arrive unmasked inside a composite value (select the columns, or c.*)',
  ),
  bypass(
    'SELECT customers FROM customers',
    'public.customers.email',
    'customers',
    'the whole-row value "customers" containing it would arrive unmasked inside a composite value (select the columns, or customers.*)',
  ),
  bypass(
    'SELECT (c).email FROM customers c',
    'public.customers.email',
    'c',
    'the whole-row value "c" containing it is used inside field or subscript access, whose result is not masked',
  ),
]);

decisionTable(
  'bypass: predicates and orderings (WHERE, JOIN, ORDER BY, GROUP BY, HAVING, DISTINCT ON, WINDOW)',
  maskingRules,
  [
    bypass(
      "SELECT id FROM customers WHERE email = 'a@b.c'",
      'public.customers.email',
      'email',
      'it is used in a WHERE condition, and predicates reveal values by binary search',
    ),
    bypass(
      "SELECT id FROM customers WHERE email > 'm' LIMIT 1",
      'public.customers.email',
      'email',
      'it is used in a WHERE condition, and predicates reveal values by binary search',
    ),
    bypass(
      "SELECT id FROM customers c WHERE c.card LIKE '4%'",
      'public.customers.card',
      'c.card',
      'it is used in a WHERE condition, and predicates reveal values by binary search',
    ),
    bypass(
      'SELECT o.id FROM orders o JOIN customers c ON c.email = o.email',
      'public.customers.email',
      'c.email',
      'it is used in a join condition, which compares its values',
    ),
    bypass(
      'SELECT o.id FROM orders o JOIN customers c USING (email)',
      'public.customers.email',
      'email',
      'it is used in a join condition, which compares its values',
    ),
    bypass(
      'SELECT * FROM customers NATURAL JOIN orders',
      'public.customers.email',
      'customers',
      'the whole-row value "customers" containing it is used in a join condition, which compares its values',
    ),
    bypass(
      'SELECT id FROM customers ORDER BY email',
      'public.customers.email',
      'email',
      'it is used in ORDER BY, which reveals the order of its values',
    ),
    bypass(
      'SELECT email FROM customers ORDER BY 1',
      'public.customers.email',
      '1',
      'it is used in ORDER BY, which reveals the order of its values',
    ),
    bypass(
      'SELECT email AS e FROM customers ORDER BY e',
      'public.customers.email',
      'e',
      'it is used in ORDER BY, which reveals the order of its values',
    ),
    bypass(
      'SELECT * FROM customers ORDER BY 2',
      'public.customers.email',
      '2',
      'it is used in ORDER BY, which reveals the order of its values',
    ),
    bypass(
      'SELECT count(*) FROM customers GROUP BY email',
      'public.customers.email',
      'email',
      'it is used in GROUP BY, which reveals which rows share a value',
    ),
    bypass(
      'SELECT email, count(*) FROM customers GROUP BY 1',
      'public.customers.email',
      '1',
      'it is used in GROUP BY, which reveals which rows share a value',
    ),
    bypass(
      "SELECT count(*) FROM customers GROUP BY id HAVING max(email) > 'm'",
      'public.customers.email',
      'email',
      'it is used in a HAVING condition, and predicates reveal values by binary search',
    ),
    bypass(
      'SELECT DISTINCT ON (email) id FROM customers',
      'public.customers.email',
      'email',
      'it is used in DISTINCT ON, which reveals which rows share a value',
    ),
    bypass(
      'SELECT id FROM customers WINDOW w AS (ORDER BY email)',
      'public.customers.email',
      'email',
      'it is used in a window definition, which reveals ordering and grouping of its values',
    ),
  ],
);

decisionTable('bypass: subqueries, set operations, derived tables and CTEs', maskingRules, [
  bypass(
    'SELECT (SELECT email FROM customers LIMIT 1)',
    'public.customers.email',
    'email',
    'it is selected by a subquery whose value feeds an expression, which is not masked',
  ),
  bypass(
    "SELECT id FROM orders WHERE cid IN (SELECT id FROM customers WHERE email LIKE '%@x.com')",
    'public.customers.email',
    'email',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    'SELECT ARRAY(SELECT email FROM customers)',
    'public.customers.email',
    'email',
    'it is selected by a subquery whose value feeds an expression, which is not masked',
  ),
  bypass(
    "SELECT email FROM customers UNION ALL SELECT 'x'",
    'public.customers.email',
    'email',
    'it is selected in a UNION/INTERSECT/EXCEPT branch, whose result carries no column origin to mask by',
  ),
  bypass(
    "SELECT e FROM (SELECT email AS e FROM customers) s WHERE e = 'x'",
    'public.customers.email',
    'e',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    "WITH c AS (SELECT * FROM customers) SELECT id FROM c WHERE email = 'x'",
    'public.customers.email',
    'email',
    'it is used in a WHERE condition, and predicates reveal values by binary search',
  ),
  bypass(
    'WITH c AS (SELECT email FROM customers) SELECT lower(email) FROM c',
    'public.customers.email',
    'email',
    'it is passed to function lower(), whose result is not masked',
  ),
]);
