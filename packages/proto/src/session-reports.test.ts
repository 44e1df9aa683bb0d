import { describe, expect, it } from 'vitest';
import {
  decodeFactsReport,
  decodeMaskedCounts,
  encodeReport,
  ReportFormatError,
  type SessionFactsReport,
} from './session-reports.js';

const facts: SessionFactsReport = {
  role: { superuser: false, createRole: true, serverFileRoles: ['pg_read_server_files'] },
  catalog: {
    operators: [{ schema: 'public', name: '###', function: 'pg_catalog.pg_read_file' }],
    casts: [{ source: 'pg_catalog.text', target: 'public.t', function: 'public.f', context: 'i' }],
    aggregates: [{ schema: 'public', name: 'agg', functions: ['public.sfunc', 'public.ffunc'] }],
    types: [{ schema: 'public', name: 'hstore', functions: ['public.hstore_in', 'public.hstore_out'] }],
  },
  complete: true,
};

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

describe('session reports', () => {
  it('round-trips a facts report', () => {
    expect(decodeFactsReport(encodeReport(facts))).toEqual(facts);
    const cut = { ...facts, complete: false, truncated: ['operators'] };
    expect(decodeFactsReport(encodeReport(cut))).toEqual(cut);
  });

  it('refuses a facts report of the wrong shape, naming what is wrong', () => {
    expect(() => decodeFactsReport(Buffer.from('not json'))).toThrow(ReportFormatError);
    expect(() => decodeFactsReport(json({ ...facts, complete: undefined }))).toThrow(/complete/);
    expect(() => decodeFactsReport(json({ ...facts, role: { ...facts.role, superuser: 'no' } }))).toThrow(/role/);
    const badCast = { ...facts.catalog, casts: [{ ...facts.catalog.casts[0], context: 'x' }] };
    expect(() => decodeFactsReport(json({ ...facts, catalog: badCast }))).toThrow(/catalog\.casts/);
    const badType = { ...facts.catalog, types: [{ schema: 'public', name: 't', functions: [1] }] };
    expect(() => decodeFactsReport(json({ ...facts, catalog: badType }))).toThrow(/catalog\.types/);
    expect(() => decodeFactsReport(json({ ...facts, catalog: { ...facts.catalog, operators: null } }))).toThrow(
      /catalog\.operators/,
    );
  });

  it('carries the masking facts when present, and checks them', () => {
    const masking: SessionFactsReport = {
      ...facts,
      catalog: {
        ...facts.catalog,
        maskedDependents: [{ schema: 'public', name: 'v', kind: 'materialized_view', column: 'public.t.ssn' }],
        maskedTableColumns: [{ schema: 'public', table: 't', columns: ['id', 'ssn', 'ctid'] }],
      },
    };
    expect(decodeFactsReport(encodeReport(masking))).toEqual(masking);
    expect(decodeFactsReport(encodeReport(facts)).catalog).not.toHaveProperty('maskedDependents');
    const badKind = {
      ...masking.catalog,
      maskedDependents: [{ schema: 'public', name: 'v', kind: 'table', column: 'x' }],
    };
    expect(() => decodeFactsReport(json({ ...facts, catalog: badKind }))).toThrow(/catalog\.maskedDependents/);
    const badColumns = { ...masking.catalog, maskedTableColumns: [{ schema: 'public', table: 't', columns: 'id' }] };
    expect(() => decodeFactsReport(json({ ...facts, catalog: badColumns }))).toThrow(/catalog\.maskedTableColumns/);
    expect(() => decodeFactsReport(json({ ...facts, catalog: { ...facts.catalog, maskedDependents: null } }))).toThrow(
      /catalog\.maskedDependents/,
    );
  });

  it('keeps only well-formed masked counts', () => {
    expect(decodeMaskedCounts(encodeReport({ email: 3, 'column:public.t.ssn': 1 }))).toEqual({
      email: 3,
      'column:public.t.ssn': 1,
    });
    expect(decodeMaskedCounts(json({ a: -1, b: 1.5, c: '2', d: 4 }))).toEqual({ d: 4 });
    expect(() => decodeMaskedCounts(json([1, 2]))).toThrow(ReportFormatError);
  });
});
