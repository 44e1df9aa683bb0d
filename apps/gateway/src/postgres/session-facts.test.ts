import { encodeReport, type SessionFactsReport } from '@warden/proto';
import { describe, expect, it } from 'vitest';
import { allowsPrivilegedTargetWithMasking, SessionFactsReceiver, type FactsContext } from './session-facts.js';

const catalog: SessionFactsReport['catalog'] = { operators: [], casts: [], aggregates: [], types: [] };
const plainRole = { superuser: false, createRole: false, serverFileRoles: [] };
const context: FactsContext = { connection: 'pg-prod', agent: 'edge', masksColumns: true, allowPrivileged: false };

function verdictFor(report: SessionFactsReport | Buffer | undefined, over: Partial<FactsContext> = {}) {
  const receiver = new SessionFactsReceiver();
  if (report) receiver.receive(Buffer.isBuffer(report) ? report : Buffer.from(encodeReport(report)));
  return receiver.verdict({ ...context, ...over });
}

describe('a guarded session admitted by its facts', () => {
  it('admits a least-privilege role with complete facts', () => {
    const verdict = verdictFor({ role: plainRole, catalog, complete: true });
    expect(verdict).toEqual({ admitted: true, facts: { role: plainRole, catalog } });
  });

  it('refuses without a facts report (an agent that predates reports), naming the agent', () => {
    const verdict = verdictFor(undefined);
    expect(verdict).toMatchObject({ admitted: false, code: '08001' });
    expect(!verdict.admitted && verdict.message).toMatch(/agent "edge" did not report .* upgrade the agent/);
  });

  it('refuses an unreadable report', () => {
    const verdict = verdictFor(Buffer.from('{"role":{}}'));
    expect(verdict).toMatchObject({ admitted: false, code: '08001' });
    expect(!verdict.admitted && verdict.message).toMatch(/unreadable target facts/);
  });

  it('refuses partial catalog facts, naming the lists that were cut', () => {
    const verdict = verdictFor({ role: plainRole, catalog, complete: false, truncated: ['operators'] });
    expect(verdict).toMatchObject({ admitted: false, code: '42501' });
    expect(!verdict.admitted && verdict.message).toMatch(/more user-defined operators than the agent reads/);
  });

  it('refuses column masking on a role that reads server files, unless the connection opts in', () => {
    for (const role of [
      { ...plainRole, superuser: true },
      { ...plainRole, serverFileRoles: ['pg_read_server_files'] },
      { ...plainRole, serverFileRoles: ['pg_execute_server_program'] },
    ]) {
      const refused = verdictFor({ role, catalog, complete: true });
      expect(refused).toMatchObject({ admitted: false, code: '42501', facts: { role } });
      expect(!refused.admitted && refused.message).toContain('allowPrivilegedTargetWithMasking');
      expect(verdictFor({ role, catalog, complete: true }, { allowPrivileged: true }).admitted).toBe(true);
      expect(verdictFor({ role, catalog, complete: true }, { masksColumns: false }).admitted).toBe(true);
    }
    // Writing server files or creating roles does not read masked values.
    const writer = { ...plainRole, createRole: true, serverFileRoles: ['pg_write_server_files'] };
    expect(verdictFor({ role: writer, catalog, complete: true }).admitted).toBe(true);
  });

  it('keeps the first facts report: a later one cannot swap the catalog', () => {
    const receiver = new SessionFactsReceiver();
    receiver.receive(Buffer.from(encodeReport({ role: plainRole, catalog, complete: true })));
    const other = { ...catalog, operators: [{ schema: 'public', name: '###', function: 'public.f' }] };
    receiver.receive(Buffer.from(encodeReport({ role: plainRole, catalog: other, complete: true })));
    expect(receiver.verdict(context)).toEqual({ admitted: true, facts: { role: plainRole, catalog } });
  });

  it('reads the opt-in only when it is exactly true', () => {
    expect(allowsPrivilegedTargetWithMasking({ allowPrivilegedTargetWithMasking: true })).toBe(true);
    expect(allowsPrivilegedTargetWithMasking({ allowPrivilegedTargetWithMasking: 'true' })).toBe(false);
    expect(allowsPrivilegedTargetWithMasking({})).toBe(false);
    expect(allowsPrivilegedTargetWithMasking(null)).toBe(false);
  });
});
