export * from './events.js';
export { canonicalJson, eventHash, GENESIS_HASH, HashChain, type EncodedEvent } from './chain.js';
export { encodePayload } from './encode.js';
export { EventRun, type EventRunBytes } from './event-run.js';
export {
  keyIdOf,
  parsePublicKey,
  RecordingSigner,
  recordingSignerFrom,
  sealMessage,
  SIGNING_KEY_LABEL,
  verifySealSignature,
} from './signing.js';
export {
  verifyRecording,
  RecordingVerifier,
  type ChainBreak,
  type ChainBreakReason,
  type SealedAs,
  type SealStatus,
  type VerifyInput,
  type VerifyReport,
} from './verify.js';
export {
  EXPORT_CONTENT_TYPE,
  ExportParseError,
  exportSessionId,
  formatExport,
  formatExportEvent,
  formatExportHeader,
  parseExport,
  type ExportHeader,
  type ExportSessionSummary,
  type ParsedExport,
} from './export.js';
export { renderTranscript, TranscriptRenderer, type TranscriptOptions } from './transcript.js';
export { replay, type ReplayOptions } from './replay.js';
export { ASCIICAST_CONTENT_TYPE, AsciicastWriter, toAsciicast, type AsciicastOptions } from './asciicast.js';
export { stripControl } from './ssh-transcript.js';
export { describeRecoveredEnd, recoveredEndOf, recoveredEndPayload } from './interrupted.js';
