import type { ApiInstance } from '../../types.js';

export async function connectionRoutes(_app: ApiInstance) {}
