import type { ApiInstance } from '../../types.js';

/** Containment: block/unblock identities, kill sessions. Registered under /api without a sub-prefix. */
export async function containmentRoutes(_app: ApiInstance) {}
