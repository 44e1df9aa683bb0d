import type { FunctionRef, StatementAnalysis } from '../analyze/types.js';
import type { CatalogDenials } from '../session/catalog.js';
import { functionMatcher, qualified, type Violation } from './guardrails.js';

/** The built-in check's rule name in block decisions. */
export const SQL_TEXT_RULE = 'sql-text';

/**
 * Functions that run SQL given as a string, or read a table named in a string (or otherwise
 * hidden from the statement), so the statement policy judges is not the one that runs. Refused on
 * every guarded connection (PostgreSQL 15 core and contrib).
 */
export const SQL_TEXT_FUNCTIONS: readonly string[] = [
  // core: SQL text or a table/schema/database dumped to XML
  'query_to_xml*', // query_to_xml, query_to_xmlschema, query_to_xml_and_xmlschema
  'table_to_xml*',
  'cursor_to_xml*',
  'schema_to_xml*',
  'database_to_xml*',
  'ts_stat', // ts_stat(sqlquery text [, weights])
  // tablefunc
  'crosstab*', // crosstab(text), crosstab(text, text), crosstab2/3/4, crosstab(text, int)
  'connectby', // connectby(relname text, ...)
  // xml2
  'xpath_table', // xpath_table(key, document, relation text, xpaths, criteria)
  // dblink: SQL run on another (or the same) server
  'dblink*',
  // pageinspect: raw pages of a relation named in a string
  'get_raw_page',
  'bt_metap',
  'bt_page_stats',
  'bt_page_items',
  'bt_multi_page_stats',
  'brin_page_items',
  'gist_page_items',
  'heap_page_item_attrs',
  'tuple_data_split',
  // pgstattuple / pgrowlocks: a relation named in a string
  'pgstattuple',
  'pgstatindex',
  'pg_relpages',
  'pgrowlocks',
  // logical decoding: row contents of other tables' changes
  'pg_logical_slot_get_changes',
  'pg_logical_slot_peek_changes',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_slot_peek_binary_changes',
];

/** `ts_rewrite(query tsquery, select text)`: the two-argument form runs the query in `select`. */
const TS_REWRITE = 'ts_rewrite';

const matchesList = functionMatcher(SQL_TEXT_FUNCTIONS);

/** The pattern a call matches (`ts_rewrite/2` for the two-argument ts_rewrite), if any. */
export function sqlTextPattern(f: FunctionRef): string | undefined {
  const listed = matchesList(f);
  if (listed !== undefined) return listed;
  if (f.name.toLowerCase() === TS_REWRITE && (f.argCounts?.includes(2) ?? true)) return `${TS_REWRITE}/2`;
  return undefined;
}

/** For catalog facts (operators, casts, aggregates): a function named there has no known arity. */
export const catalogSqlTextMatcher = functionMatcher([...SQL_TEXT_FUNCTIONS, TS_REWRITE]);

/** The built-in check: calls of SQL-text functions, directly or (with catalog facts) through operators, casts, aggregates. */
export class SqlTextCheck {
  constructor(private readonly catalog?: CatalogDenials) {}

  check(stmt: StatementAnalysis): Violation | undefined {
    for (const f of stmt.functions) {
      const pattern = sqlTextPattern(f);
      if (pattern !== undefined) {
        return {
          message: `${qualified(f)}() runs SQL given as text or reads a table named in a string, which Warden cannot judge; it is not allowed on this connection`,
          detail: `function ${qualified(f)} matches "${pattern}" in the built-in list of SQL-text functions`,
        };
      }
    }
    const indirect = this.catalog?.check(stmt);
    if (indirect) {
      return {
        message: `${indirect.what} runs ${indirect.function}(), which runs SQL given as text or reads a table named in a string; it is not allowed on this connection`,
        detail: `${indirect.what} is implemented by ${indirect.function}, which matches "${indirect.pattern}" in the built-in list of SQL-text functions (target catalog)`,
      };
    }
    return undefined;
  }
}
