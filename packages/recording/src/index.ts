export * from './events.js';
export { canonicalJson, eventHash, GENESIS_HASH, HashChain } from './chain.js';
export { keyIdOf, parsePublicKey, RecordingSigner, sealMessage, verifySealSignature } from './signing.js';
