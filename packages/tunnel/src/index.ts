export { TunnelServer } from './tunnel-server.js';
export type {
  AgentDisconnectInfo,
  AuthenticatedAgent,
  OpenSessionOptions,
  TunnelServerOptions,
} from './tunnel-server.js';
export type { ConnectedAgent } from './agent-connection.js';
export { TunnelClient } from './tunnel-client.js';
export type { TunnelClientOptions, TunnelClientState, TunnelClientTlsOptions } from './tunnel-client.js';
export type { GatewayInfo, SessionHandler, SessionOpenRequest } from './gateway-link.js';
export { TunnelStream, DEFAULT_MAX_FRAME_BYTES, DEFAULT_WINDOW_BYTES } from './tunnel-stream.js';
export type { ReportHandler } from './tunnel-stream.js';
export { TunnelError, isTunnelError } from './tunnel-error.js';
export type { TunnelErrorCode } from './tunnel-error.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export type { TunnelLogger } from './logger.js';
