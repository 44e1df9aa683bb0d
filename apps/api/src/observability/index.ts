import type { ApiInstance } from '../types.js';

/** Prometheus /metrics and event delivery plumbing for the API process (issue 9). */
export async function observabilityPlugin(_app: ApiInstance) {}
