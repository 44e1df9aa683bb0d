export { buildApi, type ApiOptions } from './app.js';
export { ensureBootstrapAdmin } from './bootstrap.js';
export type { ApiInstance } from './types.js';
