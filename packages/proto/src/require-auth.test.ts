import { describe, expect, it } from 'vitest';
import { parseRequireAuth } from './require-auth.js';

describe('parseRequireAuth', () => {
  it.each([
    ['scram-sha-256', ['scram-sha-256']],
    ['md5,scram-sha-256', ['md5', 'scram-sha-256']],
    ['scram-sha-256, md5', ['md5', 'scram-sha-256']],
    ['none', ['none']],
    ['password,md5,scram-sha-256,none', ['password', 'md5', 'scram-sha-256', 'none']],
    ['!password', ['md5', 'scram-sha-256', 'none']],
    ['!password,!md5', ['scram-sha-256', 'none']],
    ['!none', ['password', 'md5', 'scram-sha-256']],
  ])('%s allows %j', (spec, allowed) => {
    expect(parseRequireAuth(spec)).toEqual({ ok: true, allowed });
  });

  it.each([
    ['kerberos', /"kerberos" is not a known method/],
    ['SCRAM-SHA-256', /"SCRAM-SHA-256" is not a known method/],
    ['scram-sha-256-plus', /is not a known method/],
    ['gss', /"gss" is not supported by the agent/],
    ['!sspi', /"sspi" is not supported by the agent/],
    ['md5,!password', /cannot be mixed/],
    ['!md5,password', /cannot be mixed/],
    ['md5,md5', /"md5" is listed more than once/],
    ['!none,!none', /"none" is listed more than once/],
    ['', /item 1 is empty/],
    ['md5,', /item 2 is empty/],
    ['!', /item 1 is empty/],
    ['!password,!md5,!scram-sha-256,!none', /allows no method/],
  ])('%j is refused: %s', (spec, error) => {
    const parsed = parseRequireAuth(spec);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(error);
  });

  it('does not quote an item that does not look like a method name (it could be a pasted secret)', () => {
    const parsed = parseRequireAuth('md5,hunter2 is my password');
    expect(parsed).toEqual({ ok: false, error: expect.stringMatching(/^item 2 is not a known method/) });
    expect(JSON.stringify(parsed)).not.toContain('hunter2');
  });
});
