import type { ApiInstance } from '../types.js';

/** Serves the web console's built files on the API's origin (issue 10). */
export async function consolePlugin(_app: ApiInstance) {}
