import * as client from 'openid-client';
import type { OidcConfig } from '@warden/runtime';

/** Loopback issuers (tests, a provider on the same host) may use plain HTTP; everything else needs HTTPS. */
function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

export interface AuthorizationRequest {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface VerifiedLogin {
  issuer: string;
  subject: string;
  /** ID token claims merged over the userinfo response. */
  claims: Record<string, unknown>;
}

/**
 * The relying party: discovery (lazy, retried after a failure so the API starts even
 * when the provider is down), the authorization URL with PKCE, state and nonce, and
 * the code exchange with every check openid-client does (state, nonce, ID token
 * signature, issuer, audience, expiry).
 */
export class OidcClient {
  #configuration: Promise<client.Configuration> | undefined;

  constructor(
    private readonly settings: OidcConfig,
    readonly redirectUri: string,
  ) {}

  private configuration(): Promise<client.Configuration> {
    if (!this.#configuration) {
      const issuer = new URL(this.settings.issuer);
      const auth = this.settings.clientSecret ? client.ClientSecretBasic(this.settings.clientSecret) : client.None();
      const options = isLoopback(issuer) ? { execute: [client.allowInsecureRequests] } : undefined;
      this.#configuration = client.discovery(issuer, this.settings.clientId, undefined, auth, options);
      this.#configuration.catch(() => (this.#configuration = undefined));
    }
    return this.#configuration;
  }

  async authorizationRequest(): Promise<AuthorizationRequest> {
    const configuration = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.redirectUri,
      scope: this.settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, state, nonce, codeVerifier };
  }

  /** `query` is the callback's raw query string (code, state, iss or error). */
  async finish(
    query: string,
    expected: { state: string; nonce: string; codeVerifier: string },
  ): Promise<VerifiedLogin> {
    const configuration = await this.configuration();
    const callbackUrl = new URL(this.redirectUri);
    callbackUrl.search = query;
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: expected.codeVerifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new Error('the provider returned no ID token');
    let claims: Record<string, unknown> = { ...idClaims };
    // Many providers put profile and group claims only in userinfo (code flow).
    if (!(this.settings.groupsClaim in claims) || !('email' in claims)) {
      const userinfo = await client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
      claims = { ...userinfo, ...claims };
    }
    return { issuer: configuration.serverMetadata().issuer, subject: idClaims.sub, claims };
  }
}
