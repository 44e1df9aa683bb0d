import type { ApiInstance } from '../../types.js';

/** The event catalog read side: list and SSE stream (issue 9). Mounted at /api/events. */
export async function eventRoutes(_app: ApiInstance) {}
