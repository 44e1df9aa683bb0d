import type { ApiInstance } from '../../types.js';

export async function apiKeyRoutes(_app: ApiInstance) {}
