import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DETECTOR_STRATEGIES,
  DETECTOR_IDS,
  detect,
  ibanChecksumValid,
  luhnValid,
  maskText,
  type DetectorId,
} from './index.js';

const all = { detectors: DEFAULT_DETECTOR_STRATEGIES };

/** Every detector finding on `text` as [detector, value] pairs. */
function found(text: string): [string, string][] {
  return detect(text, all).map((d) => [d.detector, d.value]);
}

const jwtToken =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

const positives: Record<DetectorId, [text: string, value: string][]> = {
  email: [
    ['contact me at a@b.com', 'a@b.com'],
    ['Ada.Lovelace+news@mail.example.co.uk.', 'Ada.Lovelace+news@mail.example.co.uk'],
    ['<jöhn@exämple.de>', 'jöhn@exämple.de'],
    ['"x":"o\'brien_1%x@sub-domain.io"', "o'brien_1%x@sub-domain.io".slice(2)],
  ],
  credit_card: [
    ['4242424242424242', '4242424242424242'],
    ['card: 4242 4242 4242 4242, exp 12/30', '4242 4242 4242 4242'],
    ['5555-5555-5555-4444', '5555-5555-5555-4444'],
    ['amex 3782 822463 10005', '3782 822463 10005'],
    ['qty 2 4111 1111 1111 1111', '4111 1111 1111 1111'],
    ['discover=6011000990139424;', '6011000990139424'],
  ],
  us_ssn: [
    ['SSN 123-45-6789', '123-45-6789'],
    ['ssn: 078 05 1120', '078 05 1120'],
  ],
  phone: [
    ['call +1 415 555 2671 now', '+1 415 555 2671'],
    ['+14155552671', '+14155552671'],
    ['+44 (20) 7946-0958', '+44 (20) 7946-0958'],
    ['(415) 555-2671', '(415) 555-2671'],
    ['tel 415.555.2671', '415.555.2671'],
    ['1-800-555-0199', '1-800-555-0199'],
    ['UK 020 7946 0958', '020 7946 0958'],
    ['FR 01 23 45 67 89', '01 23 45 67 89'],
  ],
  iban: [
    ['IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX', 'DE89 3704 0044 0532 0130 00'],
    ['GB82WEST12345698765432', 'GB82WEST12345698765432'],
    ['NO9386011117947', 'NO9386011117947'],
  ],
  ipv4: [
    ['from 10.0.0.1:5432', '10.0.0.1'],
    ['client=192.168.100.254', '192.168.100.254'],
  ],
  ipv6: [
    ['addr 2001:db8::ff00:42:8329 ok', '2001:db8::ff00:42:8329'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['::ffff:192.0.2.128', '::ffff:192.0.2.128'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
  ],
  jwt: [
    [`token=${jwtToken}&x=1`, jwtToken],
    [`${b64({ alg: 'none' })}.${b64({ sub: 1 })}.`, `${b64({ alg: 'none' })}.${b64({ sub: 1 })}.`],
  ],
  aws_access_key_id: [
    ['aws_access_key_id=AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
    ['ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A'],
  ],
  bearer_token: [
    ['Authorization: Bearer abc.DEF-123_xyz~', 'abc.DEF-123_xyz~'],
    ['authorization: bearer dGhpcyBpcyBzZWNyZXQ=', 'dGhpcyBpcyBzZWNyZXQ='],
  ],
  api_key: [
    ['stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    [`GITHUB_TOKEN=ghp_${'A1b2'.repeat(9)}`, `ghp_${'A1b2'.repeat(9)}`],
    ['xoxb-123456789012-1234567890123-AbCdEf', 'xoxb-123456789012-1234567890123-AbCdEf'],
    ['key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe'],
    ['wdn_3fQxk9Zr1mPq7LwT2vYb8NcD', 'wdn_3fQxk9Zr1mPq7LwT2vYb8NcD'],
    ['WARDEN_AGENT_KEY=wda_Zm9vYmFyYmF6cXV4cXV1eA', 'wda_Zm9vYmFyYmF6cXV4cXV1eA'],
  ],
  pem_private_key: [
    [
      'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc=\n-----END RSA PRIVATE KEY-----\nbye',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc=\n-----END RSA PRIVATE KEY-----',
    ],
    [
      '{"k":"-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----"}',
      '-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----',
    ],
    [
      'truncated -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt',
    ],
  ],
};

const negatives: [string, string][] = [
  ['Luhn-invalid card', '4242424242424241'],
  ['Luhn-invalid grouped card', '4242 4242 4242 4243'],
  ['too many digits', '42424242424242424242'],
  ['issuer digit 1/7/8/9/0', '1234567812345670 7992739871300003 0000000000000000'],
  ['unix time in ms', '1700000000000'],
  ['compact timestamp (Luhn-valid)', '20240115123045'],
  ['mixed separators', '4242-4242 4242-4242'],
  ['date', '2024-01-15'],
  ['date dotted/slashed', '15.01.2024 01/15/2024'],
  ['datetime', '2024-01-15 10:30:45.123+00'],
  ['time', '12:30:45'],
  ['version strings', 'v1.2.3 1.2.3 v1.2.3.4 1.2.3.4-beta'],
  ['OID-like dotted numbers', '1.3.6.1.4.1.311'],
  ['IPv4 out of range', '256.1.1.1 1.2.3.04'],
  ['UUID', '550e8400-e29b-41d4-a716-446655440000'],
  ['all-digit UUID', '12345678-1234-1234-1234-123456789012'],
  ['ordinary integers', '4155552671 12345678901 9876543210 100000'],
  ['money and decimals', '1234567.89 -4155552671 3.14159265358979'],
  ['invalid SSN areas/groups/serials', '000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000'],
  ['SSN without separators', '123456789'],
  ['SSN with mixed separators', '123-45 6789'],
  ['IBAN bad checksum', 'DE89 3704 0044 0532 0130 01'],
  ['IBAN unknown country', 'ZZ89370400440532013000'],
  ['C++ scope', 'std::vector<int> a::b ad::be'],
  ['loopback/short IPv6', '::1 ::'],
  ['MAC address', '00:1a:2b:3c:4d:5e'],
  ['not an email', 'a@b user@localhost @handle x@.com'],
  ['JWT-shaped but header not JSON', 'eyJub3Rqc29u.eyJzdWIiOjF9.abc'],
  ['JWT header without alg', `${b64({ typ: 'JWT' })}.${b64({ sub: 1 })}.sig`],
  ['AWS-like prefix too short / lowercase', 'AKIA1234 akiaiosfodnn7example'],
  ['the word bearer', 'the bearer of bad news'],
  ['sk_ too short', 'sk_live_abc ghp_short'],
  ['public key', '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----'],
  ['hex hash', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
  ['phone-like but 9 digits', '415-555-267'],
];

describe('value detectors', () => {
  it('has a stable id per detector', () => {
    expect([...DETECTOR_IDS].sort()).toEqual(Object.keys(positives).sort());
  });

  for (const [id, cases] of Object.entries(positives)) {
    it(`${id}: finds values inside longer text`, () => {
      for (const [text, value] of cases) expect(found(text), text).toContainEqual([id, value]);
    });
  }

  for (const [what, text] of negatives) {
    it(`ignores ${what}`, () => {
      expect(found(text), text).toEqual([]);
    });
  }

  it('masks only the detected span and keeps the rest', () => {
    expect(maskText('contact me at a@b.com, thanks', all).text).toBe('contact me at [REDACTED:email], thanks');
    expect(maskText('Bearer abcdefghijk', all).text).toBe('Bearer [REDACTED:bearer_token]');
  });

  it('merges overlapping findings so no part of a value stays visible', () => {
    const r = maskText(`Authorization: Bearer ${jwtToken}`, all);
    expect(r.text).toBe('Authorization: Bearer [REDACTED:jwt]');
    expect(Object.values(r.counts).reduce((a, b) => a + b)).toBe(1);
  });

  it('only runs enabled detectors', () => {
    expect(maskText('a@b.com 123-45-6789', { detectors: { us_ssn: 'redact' } }).text).toBe('a@b.com [REDACTED:us_ssn]');
  });

  it('survives pathological input quickly', () => {
    const inputs = [
      '+' + '1'.repeat(5000),
      '1 '.repeat(5000),
      'a'.repeat(5000) + '@',
      'a@' + 'b.'.repeat(3000),
      ':'.repeat(5000),
      '-----BEGIN PRIVATE KEY-----'.repeat(300),
      '1.'.repeat(5000),
      'eyJ' + 'a'.repeat(5000) + '.',
    ];
    const t0 = performance.now();
    for (const s of inputs) maskText(s, all);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('checksums', () => {
  it('Luhn', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
  });
  it('IBAN mod 97', () => {
    expect(ibanChecksumValid('GB82WEST12345698765432')).toBe(true);
    expect(ibanChecksumValid('GB82WEST12345698765433')).toBe(false);
  });
});
