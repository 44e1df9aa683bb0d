import { describe, expect, it } from 'vitest';
import { groupsFromClaim, toName } from './provision.js';
import { parseReturnTo, withQuery, withTokenFragment } from './return-to.js';

describe('return_to', () => {
  it('accepts same-origin paths and loopback URLs with a port only', () => {
    expect(parseReturnTo(undefined)).toEqual({ kind: 'browser', url: '/' });
    expect(parseReturnTo('/console/sessions?x=1')).toEqual({ kind: 'browser', url: '/console/sessions?x=1' });
    expect(parseReturnTo('http://127.0.0.1:5000/cb/abc')).toEqual({
      kind: 'loopback',
      url: 'http://127.0.0.1:5000/cb/abc',
    });
    expect(parseReturnTo('http://localhost:5000/cb')).toMatchObject({ kind: 'loopback' });
    for (const bad of [
      '//evil.example/',
      '/\\evil.example',
      'https://evil.example/',
      'http://127.0.0.1/cb',
      'http://127.0.0.1.evil.example:80/',
      'https://127.0.0.1:5000/',
      'http://u:p@127.0.0.1:5000/',
      'javascript:alert(1)',
      '/ok\nSet-Cookie: x',
      'relative/path',
    ]) {
      expect(parseReturnTo(bad), bad).toHaveProperty('error');
    }
  });

  it('puts tokens in the fragment and codes in the query', () => {
    const tokens = { access_token: 'a.b.c', refresh_token: 'wdr_x', expires_in: 60, token_type: 'Bearer' as const };
    expect(withTokenFragment('/console/#old', tokens)).toBe(
      '/console/#access_token=a.b.c&refresh_token=wdr_x&expires_in=60&token_type=Bearer',
    );
    expect(withQuery('http://127.0.0.1:5000/cb?s=1', { code: 'wdc_1' })).toBe(
      'http://127.0.0.1:5000/cb?s=1&code=wdc_1',
    );
  });
});

describe('names from the provider', () => {
  it('become valid identity and group names', () => {
    expect(toName('Data Team')).toBe('Data-Team');
    expect(toName('/org/eng')).toBe('org-eng');
    expect(toName('alice@example.com')).toBe('alice-example.com');
    expect(toName('x'.repeat(100))).toHaveLength(63);
    expect(groupsFromClaim(['b', 'a', 'a', 42, ''])).toEqual(['a', 'b']);
    expect(groupsFromClaim('eng, ops')).toEqual(['eng', 'ops']);
    expect(groupsFromClaim(undefined)).toEqual([]);
  });
});
