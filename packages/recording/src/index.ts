export * from './events.js';
export { canonicalJson, eventHash, GENESIS_HASH, HashChain } from './chain.js';
export {
  keyIdOf,
  parsePublicKey,
  RecordingSigner,
  recordingSignerFrom,
  sealMessage,
  SIGNING_KEY_LABEL,
  verifySealSignature,
} from './signing.js';
