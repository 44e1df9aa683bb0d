import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { PrismaClient } from '@warden/db';
import { AccessTokenSigner, looksLikeJwt, verifyAccessToken, type Sealer } from './access-token.js';

// The signing-key table, in memory: enough for the signer and verifier, which only
// create, find the oldest active row and find by kid.
function fakePrisma() {
  const rows: Record<string, unknown>[] = [];
  const table = {
    async findFirst({ where }: { where: { issuer: string } }) {
      return rows.find((r) => r.issuer === where.issuer && !r.retiredAt) ?? null;
    },
    async findUnique({ where }: { where: { kid: string } }) {
      return rows.find((r) => r.kid === where.kid) ?? null;
    },
    async create({ data }: { data: Record<string, unknown> }) {
      rows.push({ ...data, retiredAt: null, createdAt: new Date() });
      return data;
    },
  };
  return { prisma: { tokenSigningKey: table } as unknown as PrismaClient, rows };
}

// Reversible, and visibly not plaintext: the test checks what reaches the table.
const sealer: Sealer = {
  seal: (text, context = '') => `sealed:${context}:${Buffer.from(text).toString('base64')}`,
  open: (sealed, context = '') => {
    const prefix = `sealed:${context}:`;
    if (!sealed.startsWith(prefix)) throw new Error('wrong context');
    return Buffer.from(sealed.slice(prefix.length), 'base64').toString();
  },
};

const subject = { identityId: '11111111-1111-4111-8111-111111111111', sessionId: 'ssss' };

describe('access tokens', () => {
  it('creates one key per issuer, stores its private half sealed, and reuses it', async () => {
    const { prisma, rows } = fakePrisma();
    const first = await AccessTokenSigner.load(prisma, sealer, 'https://warden.example');
    const again = await AccessTokenSigner.load(prisma, sealer, 'https://warden.example');
    expect(again.kid).toBe(first.kid);
    expect(rows).toHaveLength(1);
    expect(String(rows[0]!.sealedPrivateJwk)).toMatch(/^sealed:token-signing-key:/);
    expect(JSON.stringify(rows[0]!.publicJwk)).not.toContain('"d"');
  });

  it('verifies its own tokens and names precisely what is wrong with others', async () => {
    const { prisma } = fakePrisma();
    const signer = await AccessTokenSigner.load(prisma, sealer, 'https://warden.example');
    const now = new Date('2026-01-01T00:00:00Z');
    const { token, jti } = await signer.sign(subject, 3600, now);
    expect(looksLikeJwt(token)).toBe(true);
    expect(looksLikeJwt('wdn_abc')).toBe(false);
    expect(await verifyAccessToken(prisma, token, now)).toEqual({
      ok: true,
      identityId: subject.identityId,
      sessionId: 'ssss',
      jti,
    });
    const later = new Date(now.getTime() + 3601_000);
    expect(await verifyAccessToken(prisma, token, later)).toEqual({ ok: false, reason: 'expired' });

    const { privateKey } = await generateKeyPair('EdDSA');
    const base = () =>
      new SignJWT({ sid: 'ssss' })
        .setSubject(subject.identityId)
        .setJti('j')
        .setIssuedAt(Math.floor(now.getTime() / 1000))
        .setExpirationTime(Math.floor(now.getTime() / 1000) + 60);
    const forged = await base()
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid })
      .setIssuer('https://warden.example')
      .setAudience('warden')
      .sign(privateKey);
    expect(await verifyAccessToken(prisma, forged, now)).toEqual({ ok: false, reason: 'forged' });
    const unknownKid = await base()
      .setProtectedHeader({ alg: 'EdDSA', kid: 'nope' })
      .setIssuer('https://warden.example')
      .setAudience('warden')
      .sign(privateKey);
    expect(await verifyAccessToken(prisma, unknownKid, now)).toEqual({ ok: false, reason: 'forged' });

    // The real key, wrong claims: only an insider with the sealed key could make these.
    const realKey = (signer as unknown as { privateKey: CryptoKey }).privateKey;
    const wrongAudience = await base()
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid })
      .setIssuer('https://warden.example')
      .setAudience('grafana')
      .sign(realKey);
    expect(await verifyAccessToken(prisma, wrongAudience, now)).toEqual({ ok: false, reason: 'wrong_audience' });
    const wrongIssuer = await base()
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid })
      .setIssuer('https://other.example')
      .setAudience('warden')
      .sign(realKey);
    expect(await verifyAccessToken(prisma, wrongIssuer, now)).toEqual({ ok: false, reason: 'wrong_issuer' });
    const noSession = await new SignJWT({})
      .setSubject(subject.identityId)
      .setJti('j')
      .setExpirationTime(Math.floor(now.getTime() / 1000) + 60)
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid })
      .setIssuer('https://warden.example')
      .setAudience('warden')
      .sign(realKey);
    expect(await verifyAccessToken(prisma, noSession, now)).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifyAccessToken(prisma, 'eyJ.not.a-token', now)).toEqual({ ok: false, reason: 'malformed' });
    // alg=none is never accepted, whatever the header says.
    const [, payload] = token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: signer.kid })).toString('base64url')}.${payload}.`;
    expect((await verifyAccessToken(prisma, none, now)).ok).toBe(false);
  });
});
