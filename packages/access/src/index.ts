export { authenticateToken } from './authenticate.js';
export { canUseConnection } from './authorize.js';
export { authFailureMessages, type AuthFailureReason, type AuthResult, type Principal } from './principal.js';
export { TOKEN_PREFIX, adoptToken, displayPrefix, hashToken, issueToken, type IssuedToken } from './secret-token.js';
