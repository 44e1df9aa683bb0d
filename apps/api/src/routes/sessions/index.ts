import type { ApiInstance } from '../../types.js';

/** Session recordings: search, read, export, verify, live view (owned by the recording work). Registered under /api without a sub-prefix. */
export async function sessionRoutes(_app: ApiInstance) {}
