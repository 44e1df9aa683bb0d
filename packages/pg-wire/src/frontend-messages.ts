/**
 * Frontend (client → server) messages of protocol v3, as decoded by {@link FrontendParser}.
 *
 * Every message carries `frame`: the exact bytes of the whole message as received (type byte and
 * length included; for startup-phase packets, the length-prefixed packet), usually a zero-copy
 * subarray of the pushed chunk, so it can be forwarded without re-serializing. Buffers inside
 * messages (`frame`, Bind params, CopyData `data`…) alias the pushed chunks: do not mutate them.
 */

/** Type bytes of typed frontend messages. */
export const FrontendCode = {
  Bind: 0x42, // B
  Close: 0x43, // C
  Describe: 0x44, // D
  Execute: 0x45, // E
  FunctionCall: 0x46, // F
  Flush: 0x48, // H
  Parse: 0x50, // P
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  CopyFail: 0x66, // f
  /** PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse (context dependent) */
  AuthResponse: 0x70, // p
} as const;

/** Request codes of untyped startup-phase packets. */
export const StartupCode = {
  /** Protocol 3.0 (196608). Minor versions 3.x share the major 3. */
  ProtocolV3: 0x00030000,
  CancelRequest: 80877102,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
} as const;

export interface StartupMessage {
  readonly kind: 'startup';
  readonly frame: Buffer;
  /** Full protocol version, e.g. 196608 for 3.0 (major = version >> 16, minor = version & 0xffff). */
  readonly protocolVersion: number;
  /** Parameters (user, database, application_name, options, _pq_.* …). Null-prototype object. */
  readonly parameters: Record<string, string>;
}

export interface SSLRequestMessage {
  readonly kind: 'sslRequest';
  readonly frame: Buffer;
}

export interface GSSENCRequestMessage {
  readonly kind: 'gssEncRequest';
  readonly frame: Buffer;
}

export interface CancelRequestMessage {
  readonly kind: 'cancelRequest';
  readonly frame: Buffer;
  readonly processId: number;
  /** The first four key bytes as a signed int32 (the whole key in protocol 3.0). */
  readonly secretKey: number;
  /** The whole key (4 bytes in 3.0; up to 256 in 3.2). */
  readonly secretKeyBytes: Buffer;
}

export interface QueryMessage {
  readonly kind: 'query';
  readonly frame: Buffer;
  readonly text: string;
}

export interface ParseMessage {
  readonly kind: 'parse';
  readonly frame: Buffer;
  /** Prepared statement name ('' = unnamed). */
  readonly name: string;
  readonly query: string;
  /** Parameter type OIDs (0 = unspecified). */
  readonly paramTypes: number[];
}

export interface BindMessage {
  readonly kind: 'bind';
  readonly frame: Buffer;
  readonly portal: string;
  readonly statement: string;
  /** 0 entries: all text; 1 entry: applies to all; otherwise one per parameter. 0 = text, 1 = binary. */
  readonly paramFormats: number[];
  /** Parameter values (zero-copy), null for SQL NULL. */
  readonly params: (Buffer | null)[];
  readonly resultFormats: number[];
}

/**
 * The format code (0 text, 1 binary) of value `index` under a list of Bind format codes:
 * none means all text, one applies to every value, otherwise there is one per value.
 */
export function formatCode(formats: readonly number[], index: number): number {
  if (formats.length === 0) return 0;
  return formats[formats.length === 1 ? 0 : index] ?? 0;
}

export interface DescribeMessage {
  readonly kind: 'describe';
  readonly frame: Buffer;
  /** 'S' prepared statement, 'P' portal. */
  readonly target: 'S' | 'P';
  readonly name: string;
}

export interface CloseMessage {
  readonly kind: 'close';
  readonly frame: Buffer;
  readonly target: 'S' | 'P';
  readonly name: string;
}

export interface ExecuteMessage {
  readonly kind: 'execute';
  readonly frame: Buffer;
  readonly portal: string;
  /** 0 = no limit. */
  readonly maxRows: number;
}

export interface SyncMessage {
  readonly kind: 'sync';
  readonly frame: Buffer;
}

export interface FlushMessage {
  readonly kind: 'flush';
  readonly frame: Buffer;
}

export interface TerminateMessage {
  readonly kind: 'terminate';
  readonly frame: Buffer;
}

export interface CopyDataMessage {
  readonly kind: 'copyData';
  readonly frame: Buffer;
  /** Payload, zero-copy. */
  readonly data: Buffer;
}

export interface CopyDoneMessage {
  readonly kind: 'copyDone';
  readonly frame: Buffer;
}

export interface CopyFailMessage {
  readonly kind: 'copyFail';
  readonly frame: Buffer;
  readonly message: string;
}

/**
 * 'p': PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse — which one depends on
 * the authentication request the server sent. Decode `body` with {@link decodePassword},
 * {@link decodeSASLInitialResponse} or {@link decodeSASLResponse}.
 */
export interface AuthResponseMessage {
  readonly kind: 'authResponse';
  readonly frame: Buffer;
  /** Message body without type and length, zero-copy. */
  readonly body: Buffer;
}

export interface FunctionCallMessage {
  readonly kind: 'functionCall';
  readonly frame: Buffer;
  readonly functionOid: number;
  readonly argFormats: number[];
  readonly args: (Buffer | null)[];
  readonly resultFormat: number;
}

/** Packets of the startup phase (no type byte). */
export type StartupPhaseMessage = StartupMessage | SSLRequestMessage | GSSENCRequestMessage | CancelRequestMessage;

/** Typed messages of the normal phase. */
export type TypedFrontendMessage =
  | QueryMessage
  | ParseMessage
  | BindMessage
  | DescribeMessage
  | ExecuteMessage
  | SyncMessage
  | FlushMessage
  | CloseMessage
  | TerminateMessage
  | CopyDataMessage
  | CopyDoneMessage
  | CopyFailMessage
  | AuthResponseMessage
  | FunctionCallMessage;

export type FrontendMessage = StartupPhaseMessage | TypedFrontendMessage;

export type FrontendMessageKind = FrontendMessage['kind'];

/** SASLInitialResponse contents. */
export interface SASLInitialResponse {
  /** e.g. 'SCRAM-SHA-256' */
  readonly mechanism: string;
  /** Client-first-message, or null when the client sent length -1. Zero-copy. */
  readonly data: Buffer | null;
}
