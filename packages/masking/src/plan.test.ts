import { describe, expect, it } from 'vitest';
import {
  catalogLookup,
  catalogQueryParams,
  compilePlan,
  parseQualifiedColumn,
  resolveColumnRules,
  type ColumnLookup,
} from './index.js';

describe('column rules', () => {
  it('parses qualified names like Postgres', () => {
    expect(parseQualifiedColumn('public.Customers.Email')).toEqual({
      schema: 'public',
      table: 'customers',
      column: 'email',
    });
    expect(parseQualifiedColumn('customers.ssn')).toEqual({ schema: 'public', table: 'customers', column: 'ssn' });
    expect(parseQualifiedColumn('"My.Schema"."T ""x"""."Col"')).toEqual({
      schema: 'My.Schema',
      table: 'T "x"',
      column: 'Col',
    });
    for (const bad of ['ssn', 'a..b', 'a.b.c.d', '"a.b', 'a."b"x.c']) expect(() => parseQualifiedColumn(bad)).toThrow();
  });

  it('resolves rules through an injected lookup, including child tables', () => {
    const lookup: ColumnLookup = (schema, table, column) => {
      if (schema === 'public' && table === 'customers' && column === 'email') return { tableOid: 16400, attnum: 2 };
      if (schema === 'public' && table === 'events' && column === 'ip')
        return [
          { tableOid: 16500, attnum: 3 },
          { tableOid: 16501, attnum: 4 },
        ];
      return undefined;
    };
    const r = resolveColumnRules(
      [
        { column: 'public.customers.email', strategy: 'domain' },
        { column: 'events.ip', strategy: 'hash' },
        { column: 'public.gone.x', strategy: 'redact' },
      ],
      lookup,
    );
    expect(Object.fromEntries(r.columns)).toEqual({
      '16400:2': { strategy: 'domain', name: 'public.customers.email' },
      '16500:3': { strategy: 'hash', name: 'public.events.ip' },
      '16501:4': { strategy: 'hash', name: 'public.events.ip' },
    });
    expect(r.unresolved).toEqual(['public.gone.x']);
    expect(() => resolveColumnRules([{ column: 'a.b', strategy: 'nope' as never }], lookup)).toThrow(/strategy/);
  });

  it('builds catalog query parameters and a lookup from its rows', () => {
    expect(
      catalogQueryParams([
        { column: 'public.customers.email', strategy: 'redact' },
        { column: 'x.y', strategy: 'hash' },
      ]),
    ).toEqual([
      ['public', 'public'],
      ['customers', 'x'],
      ['email', 'y'],
    ]);
    const lookup = catalogLookup([
      { schema: 'public', table: 'customers', column: 'email', table_oid: '16400', attnum: 2 },
    ]);
    expect(lookup('public', 'customers', 'email')).toEqual([{ tableOid: 16400, attnum: 2 }]);
    expect(lookup('public', 'customers', 'ssn')).toBeUndefined();
  });

  it('validates plans', () => {
    expect(compilePlan({}).empty).toBe(true);
    expect(compilePlan({ detectors: { email: 'redact' } }).detectors.map((d) => d.id)).toEqual(['email']);
    expect(() => compilePlan({ detectors: { mail: 'redact' } as never })).toThrow(/unknown detector/);
    expect(() => compilePlan({ columns: { 'users.email': { strategy: 'redact' } } })).toThrow(/tableOid:attnum/);
    expect(() => compilePlan({ columns: { '1:2': { strategy: 'x' as never } } })).toThrow(/strategy/);
  });
});
