import { regexDetector, type Detector } from './types.js';

/**
 * `pem_private_key`: a whole `-----BEGIN … PRIVATE KEY-----` block up to its END line (RSA, EC,
 * DSA, OPENSSH, ENCRYPTED, PGP … BLOCK), whether lines are broken by real newlines or by `\n`
 * escapes inside JSON. A BEGIN line without END (a truncated value) is masked to the end of the
 * text: fail closed.
 */
export const pemPrivateKey: Detector = regexDetector(
  'pem_private_key',
  /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
  undefined,
  ['PRIVATE KEY'],
);

function jwtHeaderValid(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/**
 * `jwt`: three base64url segments (signature may be empty, as with `alg: none`) whose header
 * decodes to a JSON object with an `alg`. The header of any JSON object starts with `eyJ`.
 */
export const jwt: Detector = regexDetector(
  'jwt',
  /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_-])/g,
  (m) => jwtHeaderValid(m[0].slice(0, m[0].indexOf('.'))),
  ['eyJ'],
);

/** `aws_access_key_id`: AKIA (long-term), ASIA (temporary) and the other IAM unique-id prefixes. */
export const awsAccessKeyId: Detector = regexDetector(
  'aws_access_key_id',
  /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
);

/**
 * `bearer_token`: the credential after `Bearer ` (any case), e.g. in a logged Authorization
 * header. Only the token is masked; the word `Bearer` stays.
 */
export const bearerToken: Detector = regexDetector(
  'bearer_token',
  /(?<![A-Za-z0-9_])bearer[ \t]+([A-Za-z0-9._~+/-]{8,}=*)/dgi,
  (m) => m.indices![1]!,
  ['earer', 'EARER'],
);

/**
 * `api_key`: well-known prefixed credentials: Stripe (`sk_live_`, `sk_test_`, `rk_…`, `whsec_`),
 * GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab (`glpat-`), Slack
 * (`xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxr-`, `xoxs-`), Google (`AIza…`), OpenAI/Anthropic
 * (`sk-…`, `sk-proj-…`, `sk-ant-…`), npm (`npm_`), SendGrid (`SG.…`) and Warden's own API and
 * agent keys (`wdn_`, `wda_`).
 */
export const apiKey: Detector = regexDetector(
  'api_key',
  new RegExp(
    '(?<![A-Za-z0-9_-])(?:' +
      [
        '(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}',
        'whsec_[A-Za-z0-9+/=]{24,}',
        'gh[pousr]_[A-Za-z0-9]{36,}',
        'github_pat_[A-Za-z0-9_]{40,}',
        'glpat-[A-Za-z0-9_-]{20,}',
        'xox[abposr]-[A-Za-z0-9-]{10,}',
        'AIza[0-9A-Za-z_-]{35}',
        'sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}',
        'npm_[A-Za-z0-9]{36}',
        'SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}',
        'wd[na]_[A-Za-z0-9_-]{16,}',
      ].join('|') +
      ')(?![A-Za-z0-9_-])',
    'g',
  ),
);
