import { randomUUID } from 'node:crypto';
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { PrismaClient } from '@warden/db';
import type { SecretBox } from '@warden/runtime';

/** The OAuth token response the callback fragment and /api/auth/refresh carry. */
export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

export function fragmentTokens(url: URL): Tokens {
  const params = new URLSearchParams(url.hash.slice(1));
  if (params.get('error')) throw new Error(`login failed: ${params.get('error')} ${params.get('error_description')}`);
  return {
    access_token: params.get('access_token') ?? '',
    refresh_token: params.get('refresh_token') ?? '',
    expires_in: Number(params.get('expires_in')),
    token_type: params.get('token_type') ?? '',
  };
}

/**
 * Tokens Warden did not mint the ordinary way, for the refusal tests: `own key` re-signs a real
 * token's claims with the deployment's real key (opened from the database with the secret key,
 * as only an insider could), so only the altered claim is wrong; `forged` uses a fresh key under
 * the real key id.
 */
export async function craftToken(
  prisma: PrismaClient,
  secretBox: SecretBox,
  template: string,
  change: { aud?: string; iss?: string; exp?: number; forge?: boolean },
): Promise<string> {
  const claims = decodeJwt(template);
  const row = await prisma.tokenSigningKey.findFirstOrThrow({
    where: { retiredAt: null },
    orderBy: { createdAt: 'asc' },
  });
  const key = change.forge
    ? (await generateKeyPair('EdDSA')).privateKey
    : await importJWK(JSON.parse(secretBox.open(row.sealedPrivateJwk, `token-signing-key:${row.kid}`)) as JWK, 'EdDSA');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: 'EdDSA', kid: row.kid, typ: 'JWT' })
    .setIssuer(change.iss ?? String(claims.iss))
    .setAudience(change.aud ?? 'warden')
    .setSubject(String(claims.sub))
    .setJti(randomUUID())
    .setIssuedAt(now - 3600)
    .setExpirationTime(change.exp ?? now + 3600)
    .sign(key);
}
