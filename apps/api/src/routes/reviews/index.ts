import type { ApiInstance } from '../../types.js';

/** Reviews (approvals inbox, decisions) and time-boxed access requests. Registered under /api without a sub-prefix. */
export async function reviewRoutes(_app: ApiInstance) {}
