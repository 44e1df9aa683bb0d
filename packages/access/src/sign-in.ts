import type { PrismaClient, RefreshTokenKind } from '@warden/db';
import type { AccessTokenSigner } from './access-token.js';
import { hashToken, issueToken } from './secret-token.js';

/** The OAuth 2.0 token response shape (RFC 6749 §5.1), as the console and CLI read it. */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: 'Bearer';
}

export type SignInClient = 'browser' | 'cli';

export type RedeemResult =
  | { ok: true; tokens: TokenResponse; identityId: string; sessionId: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'reused' | 'revoked' | 'identity_inactive' };

export interface SignInOptions {
  accessTokenTtlSeconds: number;
  /** Absolute lifetime of a sign-in (its refresh tokens). */
  refreshTokenTtlSeconds: number;
  /** How long the CLI's one-time login code stays redeemable. */
  loginCodeTtlSeconds?: number;
  /**
   * Called after a sign-in was revoked (logout, an admin, a reused refresh token), so the
   * gateways end the live sessions opened with its access tokens.
   */
  onRevoked?: (sessionId: string, reason: string) => Promise<void>;
}

/**
 * Sign-ins after OIDC login: one AuthSession per login, short-lived access tokens,
 * and opaque single-use refresh tokens (only their hash stored) that rotate on use.
 * Presenting a spent refresh token means it was copied: the whole sign-in is revoked.
 */
export class SignInService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly signer: AccessTokenSigner,
    private readonly options: SignInOptions,
  ) {}

  /** A new sign-in with its first access and refresh tokens (the browser path). */
  async start(identityId: string, client: SignInClient, now = new Date()): Promise<TokenResponse> {
    const session = await this.createSession(identityId, client, now);
    return this.tokensFor(identityId, session, now);
  }

  /**
   * A new sign-in whose tokens are fetched with a one-time code (the CLI's loopback
   * redirect), so they never travel in a URL.
   */
  async startWithLoginCode(identityId: string, now = new Date()): Promise<string> {
    const session = await this.createSession(identityId, 'cli', now);
    const ttl = this.options.loginCodeTtlSeconds ?? 120;
    return this.createToken(session.id, 'login_code', new Date(now.getTime() + ttl * 1000));
  }

  refresh(refreshToken: string, now = new Date()): Promise<RedeemResult> {
    return this.redeem(refreshToken, 'refresh', now);
  }

  exchange(loginCode: string, now = new Date()): Promise<RedeemResult> {
    return this.redeem(loginCode, 'login_code', now);
  }

  /** Ends a sign-in: every access and refresh token of it stops working at once. */
  async revoke(sessionId: string, reason: string, now = new Date()): Promise<boolean> {
    const { count } = await this.prisma.authSession.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: now, revokedReason: reason },
    });
    if (count > 0) await this.options.onRevoked?.(sessionId, reason);
    return count > 0;
  }

  /** The sign-in a refresh token belongs to (spent or not), for logout. */
  async sessionOfRefreshToken(refreshToken: string): Promise<{ id: string; identityId: string } | null> {
    const row = await this.prisma.refreshToken.findUnique({
      where: { hash: hashToken(refreshToken) },
      select: { session: { select: { id: true, identityId: true } } },
    });
    return row?.session ?? null;
  }

  private createSession(identityId: string, client: SignInClient, now: Date) {
    const expiresAt = new Date(now.getTime() + this.options.refreshTokenTtlSeconds * 1000);
    return this.prisma.authSession.create({ data: { identityId, client, expiresAt } });
  }

  private async createToken(sessionId: string, kind: RefreshTokenKind, expiresAt: Date): Promise<string> {
    const issued = issueToken(kind === 'refresh' ? 'refreshToken' : 'loginCode');
    await this.prisma.refreshToken.create({ data: { hash: issued.hash, sessionId, kind, expiresAt } });
    return issued.token;
  }

  private async tokensFor(
    identityId: string,
    session: { id: string; expiresAt: Date },
    now: Date,
  ): Promise<TokenResponse> {
    // An access token never outlives its sign-in.
    const remaining = Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000);
    const ttl = Math.max(1, Math.min(this.options.accessTokenTtlSeconds, remaining));
    const access = await this.signer.sign({ identityId, sessionId: session.id }, ttl, now);
    const refresh = await this.createToken(session.id, 'refresh', session.expiresAt);
    return { access_token: access.token, refresh_token: refresh, expires_in: access.expiresIn, token_type: 'Bearer' };
  }

  private async redeem(token: string, kind: RefreshTokenKind, now: Date): Promise<RedeemResult> {
    const row = await this.prisma.refreshToken.findUnique({
      where: { hash: hashToken(token) },
      include: { session: { include: { identity: { select: { status: true } } } } },
    });
    if (!row || row.kind !== kind) return { ok: false, reason: 'unknown' };
    const { session } = row;
    if (session.revokedAt) return { ok: false, reason: 'revoked' };
    // Single use, decided by the database: of two concurrent redemptions exactly one wins.
    const { count } = await this.prisma.refreshToken.updateMany({
      where: { hash: row.hash, usedAt: null },
      data: { usedAt: now },
    });
    if (count === 0) {
      await this.revoke(session.id, `${kind === 'refresh' ? 'refresh token' : 'login code'} reused`, now);
      return { ok: false, reason: 'reused' };
    }
    if (row.expiresAt <= now || session.expiresAt <= now) return { ok: false, reason: 'expired' };
    if (session.identity.status !== 'active') return { ok: false, reason: 'identity_inactive' };
    const tokens = await this.tokensFor(session.identityId, session, now);
    return { ok: true, tokens, identityId: session.identityId, sessionId: session.id };
  }
}
