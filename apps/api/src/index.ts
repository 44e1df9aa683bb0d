export { buildApi, type ApiOptions } from './app.js';
export { ensureBootstrapAdmin } from './bootstrap.js';
export { readSshHostKey, type SshHostKey } from './routes/ssh-host-key/index.js';
export type { ApiInstance } from './types.js';
