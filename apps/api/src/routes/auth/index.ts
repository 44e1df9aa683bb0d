import type { ApiInstance } from '../../types.js';

/** Sign-in: OIDC login, access and refresh tokens (issue 7). Mounted at /api/auth. */
export async function authRoutes(_app: ApiInstance) {}
