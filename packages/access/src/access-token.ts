import { randomUUID } from 'node:crypto';
import {
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
} from 'jose';
import type { PrismaClient } from '@warden/db';
import type { AuthFailureReason } from './principal.js';

/** Every access token Warden mints is for Warden itself; anything else is refused. */
export const ACCESS_TOKEN_AUDIENCE = 'warden';
/** Ed25519: small keys and signatures, fast to verify on every authentication. */
export const ACCESS_TOKEN_ALGORITHM = 'EdDSA';

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** What seals the private key at rest: SecretBox from @warden/runtime fits. */
export interface Sealer {
  seal(plaintext: string, associatedData?: string): string;
  open(sealed: string, associatedData?: string): string;
}

/** Binds a sealed private key to its row, so a sealed value copied onto another key id does not open. */
const sealingContext = (kid: string) => `token-signing-key:${kid}`;

export interface SignedAccessToken {
  token: string;
  jti: string;
  expiresAt: Date;
  expiresIn: number;
}

/**
 * Mints access tokens with the deployment's signing key. The key is generated once and
 * stored (private half sealed) in the control plane, so every replica signs and
 * verifies with the same key.
 */
export class AccessTokenSigner {
  private constructor(
    readonly kid: string,
    readonly issuer: string,
    private readonly privateKey: VerifyKey,
  ) {}

  /** The oldest active key for this issuer, created when there is none. */
  static async load(prisma: PrismaClient, sealer: Sealer, issuer: string): Promise<AccessTokenSigner> {
    const existing = await activeKey(prisma, issuer);
    if (existing) return AccessTokenSigner.fromRow(existing, sealer);
    const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALGORITHM, { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
    const privateJwk = await exportJWK(privateKey);
    await prisma.tokenSigningKey.create({
      data: {
        kid,
        algorithm: ACCESS_TOKEN_ALGORITHM,
        issuer,
        publicJwk,
        sealedPrivateJwk: sealer.seal(JSON.stringify(privateJwk), sealingContext(kid)),
      },
    });
    // Replicas starting together may each create one; all converge on the oldest.
    const chosen = await activeKey(prisma, issuer);
    if (!chosen) throw new Error('the token signing key just created is gone');
    return AccessTokenSigner.fromRow(chosen, sealer);
  }

  private static async fromRow(
    row: { kid: string; issuer: string; sealedPrivateJwk: string },
    sealer: Sealer,
  ): Promise<AccessTokenSigner> {
    const jwk = JSON.parse(sealer.open(row.sealedPrivateJwk, sealingContext(row.kid))) as JWK;
    return new AccessTokenSigner(row.kid, row.issuer, await importJWK(jwk, ACCESS_TOKEN_ALGORITHM));
  }

  async sign(
    subject: { identityId: string; sessionId: string },
    ttlSeconds: number,
    now = new Date(),
  ): Promise<SignedAccessToken> {
    const jti = randomUUID();
    const iat = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({ sid: subject.sessionId })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: this.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setSubject(subject.identityId)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(this.privateKey);
    return { token, jti, expiresAt: new Date((iat + ttlSeconds) * 1000), expiresIn: ttlSeconds };
  }
}

function activeKey(prisma: PrismaClient, issuer: string) {
  return prisma.tokenSigningKey.findFirst({
    where: { issuer, retiredAt: null, algorithm: ACCESS_TOKEN_ALGORITHM },
    orderBy: [{ createdAt: 'asc' }, { kid: 'asc' }],
  });
}

/** Public keys for `/api/auth/jwks`, so others can verify Warden's tokens offline. */
export async function publicJwks(prisma: PrismaClient): Promise<{ keys: JWK[] }> {
  const rows = await prisma.tokenSigningKey.findMany({ where: { retiredAt: null }, orderBy: { createdAt: 'asc' } });
  return { keys: rows.map((row) => row.publicJwk as JWK) };
}

/** Access tokens are compact JWS; API keys (`wdn_...`) never contain dots. */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && token.split('.').length === 3;
}

// Public keys never change under a kid, so each replica reads each one once.
const verifyKeys = new Map<string, { key: VerifyKey; issuer: string }>();

async function verificationKey(prisma: PrismaClient, kid: string) {
  const cached = verifyKeys.get(kid);
  if (cached) return cached;
  // Unknown kids are not cached: a key another replica just created must verify at once.
  const row = await prisma.tokenSigningKey.findUnique({ where: { kid } });
  if (!row || row.retiredAt || row.algorithm !== ACCESS_TOKEN_ALGORITHM) return null;
  const entry = { key: await importJWK(row.publicJwk as JWK, ACCESS_TOKEN_ALGORITHM), issuer: row.issuer };
  verifyKeys.set(kid, entry);
  return entry;
}

export type VerifiedAccessToken =
  | { ok: true; identityId: string; sessionId: string; jti: string }
  | {
      ok: false;
      reason: AuthFailureReason;
    };

/**
 * Checks signature, issuer, audience and expiry. Revocation and the identity's status
 * need the database and are checked by authenticateToken.
 */
export async function verifyAccessToken(
  prisma: PrismaClient,
  token: string,
  now = new Date(),
): Promise<VerifiedAccessToken> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!kid) return { ok: false, reason: 'forged' };
  const key = await verificationKey(prisma, kid);
  if (!key) return { ok: false, reason: 'forged' };
  try {
    const { payload } = await jwtVerify(token, key.key, {
      algorithms: [ACCESS_TOKEN_ALGORITHM],
      issuer: key.issuer,
      audience: ACCESS_TOKEN_AUDIENCE,
      currentDate: now,
      requiredClaims: ['sub', 'jti', 'exp', 'sid'],
    });
    const { sub, jti, sid } = payload;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof sid !== 'string') {
      return { ok: false, reason: 'malformed' };
    }
    return { ok: true, identityId: sub, sessionId: sid, jti };
  } catch (error) {
    return { ok: false, reason: failureReason(error) };
  }
}

function failureReason(error: unknown): AuthFailureReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JOSEAlgNotAllowed) {
    return 'forged';
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'nbf' || error.claim === 'iat') return 'not_yet_valid';
  }
  return 'malformed';
}
