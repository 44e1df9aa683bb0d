export {
  loadConfig,
  parseDuration,
  parseListenAddress,
  ConfigError,
  type OidcConfig,
  type WardenConfig,
  type ListenAddress,
} from './config.js';
export { SecretBox, loadSecretBox } from './secret-box.js';
export { createLogger, messageFirst, redactedPaths, type Logger, type MessageFirstLogger } from './logger.js';
export { stopOnSignals } from './shutdown.js';
