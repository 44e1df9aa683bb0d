export { SqlState, type SqlStateCode } from './sqlstate.js';
export { ProtocolViolation } from './protocol-violation.js';
export { BufferReader } from './buffer-reader.js';
export { BufferWriter } from './buffer-writer.js';
export { FrameView } from './chunk-queue.js';
export { MessageBudget, BUDGETED_MESSAGE_FROM } from './message-budget.js';
export * from './frontend-messages.js';
export {
  FrontendParser,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_STARTUP_PACKET_SIZE,
  decodeFrontendFrame,
  decodePassword,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  isTlsClientHello,
  type FrontendParserOptions,
} from './frontend-parser.js';
export * from './backend-messages.js';
export {
  BackendSplitter,
  frameTypes,
  typeTable,
  DEFAULT_MAX_BACKEND_MESSAGE_SIZE,
  type BackendSplitterOptions,
} from './backend-splitter.js';
export { BackendSerializer, type FieldDescriptionInput } from './backend-serializer.js';
/**
 * Frontend (client → server) message builder from node-postgres' pg-protocol, for the agent's
 * side of the connection (startup, password, SASL, query, parse/bind/execute, cancel…).
 */
export { serialize as serializeFrontend } from 'pg-protocol';
