import type { ApiInstance } from '../../types.js';

export async function agentRoutes(_app: ApiInstance) {}
