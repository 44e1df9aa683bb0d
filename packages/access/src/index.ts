export { authenticateToken, principalOf, withGroups, type IdentityWithGroups } from './authenticate.js';
export { canUseConnection } from './authorize.js';
export { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
export {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_AUDIENCE,
  AccessTokenSigner,
  looksLikeJwt,
  publicJwks,
  verifyAccessToken,
  type Sealer,
  type SignedAccessToken,
} from './access-token.js';
export { authFailureMessages, type AuthFailureReason, type AuthResult, type Principal } from './principal.js';
export { TOKEN_PREFIX, adoptToken, displayPrefix, hashToken, issueToken, type IssuedToken } from './secret-token.js';
export {
  SignInService,
  type RedeemResult,
  type SignInClient,
  type SignInOptions,
  type TokenResponse,
} from './sign-in.js';
