export { loadConfig, parseListenAddress, ConfigError, type WardenConfig, type ListenAddress } from './config.js';
export { SecretBox, loadSecretBox } from './secret-box.js';
export { createLogger, redactedPaths, type Logger } from './logger.js';
