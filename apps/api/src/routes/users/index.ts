import type { ApiInstance } from '../../types.js';

export async function userRoutes(_app: ApiInstance) {}
