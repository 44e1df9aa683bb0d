import type { ApiInstance } from '../../types.js';

/** Webhook subscriptions for the event catalog (issue 9). Mounted at /api/webhooks. */
export async function webhookRoutes(_app: ApiInstance) {}
