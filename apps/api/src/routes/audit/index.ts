import type { ApiInstance } from '../../types.js';

export async function auditRoutes(_app: ApiInstance) {}
