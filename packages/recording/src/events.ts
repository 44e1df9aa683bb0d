/**
 * The recording format: one ordered, hash-chained stream of events per session,
 * whatever the protocol. This file is the contract between the gateway (which
 * writes), the API (which serves and verifies) and the CLI (which replays and
 * verifies offline). Changing a payload's shape is a format change: bump
 * RECORDING_FORMAT and keep old readers working.
 */
export const RECORDING_FORMAT = 'warden-recording/v1';

/** Who produced the bytes the event describes. */
export type EventDirection = 'client' | 'server' | 'gateway';

/** One recorded event as stored and exported. `t` is an ISO-8601 time with milliseconds. */
export interface RecordedEvent<P = EventPayload> {
  sessionId: string;
  seq: number;
  t: string;
  direction: EventDirection;
  kind: EventKind;
  payload: P;
  prevHash: string;
  hash: string;
}

/** An event before it joins the chain. */
export type UnchainedEvent<P = EventPayload> = Omit<RecordedEvent<P>, 'prevHash' | 'hash'>;

/** A cell as recorded: text as the client received it (already masked), null, or binary. */
export type RecordedCell = string | null | { b64: string };

/**
 * The policy decision a statement or command met. Review outcomes arrive as their own events.
 * `construct`: for SSH commands the policy could not judge statically, what kept it from it
 * (a `ConstructKind` of @warden/policy: `eval`, `shell-input`, ...).
 */
export type RecordedDecision =
  | { action: 'allow' }
  | { action: 'block'; rule: string; message: string; construct?: string }
  | { action: 'review'; rule: string; construct?: string };

export interface SessionStartPayload {
  protocol: 'postgres' | 'ssh' | 'http';
  identity: { id: string; name: string; kind?: string };
  connection: { id: string; name: string };
  agent: { id: string; name: string };
  clientAddr: string | null;
  clientTls: boolean;
  clientUser: string | null;
  /** The signing key that will seal this session (see signing.ts). */
  signingKeyId: string;
}

/** Simple-protocol Query (may hold several statements). */
export interface QueryPayload {
  text: string;
  decision: RecordedDecision;
}

/** Extended-protocol Parse of a named statement, or any Parse that policy refused. */
export interface PreparePayload {
  name: string;
  text: string;
  decision: RecordedDecision;
}

/** Extended-protocol Execute, with the statement text and the Bind parameters it runs with. */
export interface ExecutePayload {
  statement: string;
  portal: string;
  text: string;
  params: RecordedCell[];
  decision: RecordedDecision;
  /** True when the parameters were cut at 1 MiB. */
  truncated?: boolean;
}

/** A statement's outcome: columns, the first rows (capped), exact row count, command tag. */
export interface ResultPayload {
  /** seq of the query/execute event this answers. */
  ref: number | null;
  tag: string;
  columns?: { name: string; typeOid: number }[];
  rows?: RecordedCell[][];
  /** Rows (or COPY data messages) the client received, always exact. */
  rowCount: number;
  /** Bytes of row data the client received, always exact. */
  bytes: number;
  /** True when rows were cut at the connection's recording cap. */
  truncated?: boolean;
  /** COPY data as lines of text (capped like rows), when the statement was a COPY. */
  copy?: { direction: 'in' | 'out'; data: string[] };
  /** Time from the request reaching the gateway to its completion. */
  ms: number;
}

export interface ErrorPayload {
  ref: number | null;
  code: string;
  message: string;
  severity?: string;
  detail?: string;
  hint?: string;
  ms?: number;
}

export interface NoticePayload {
  code: string;
  message: string;
  severity?: string;
}

export interface NotificationPayload {
  channel: string;
  payload: string;
  processId: number;
}

/** A statement was held for approval (`ref` is its query/execute event). */
export interface ReviewRequestedPayload {
  ref: number | null;
  reviewId: string;
  rule: string;
  approverGroups: string[];
  approvals: number;
  expiresAt: string;
  justification?: string;
}

/** How the review of a held statement ended; approved statements then run. */
export interface ReviewDecidedPayload {
  ref: number | null;
  reviewId: string;
  status: 'approved' | 'denied' | 'expired' | 'cancelled';
  by?: { id: string; name: string };
  comment?: string;
}

export interface SessionEndPayload {
  status: string;
  reason: string;
  /** Absent in a recovered end (`recovered`): the counters were lost with the gateway that kept them. */
  counters?: {
    bytesIn: number;
    bytesOut: number;
    statements: number;
    blocked: number;
    masked?: Record<string, number>;
  };
  /**
   * Present when the gateway that ran the session went away without ending it (a crash, SIGKILL, a
   * lost host) and a gateway (another replica, or the same one restarted) wrote this end and sealed
   * the recording over the events that had been stored. Events the gone gateway recorded but had
   * not stored yet are not in the recording. `status` is then `interrupted`.
   */
  recovered?: RecoveredEnd;
}

/** How a recovered session.end says who ran the session, who ended it, and what had been stored. */
export interface RecoveredEnd {
  /** The gateway replica that ran the session and went away. */
  gatewayId: string;
  /** The replica that ended and sealed it (the same id when the gateway came back under it). */
  by: string;
  /** seq of the last event that had been stored before this one (0: none had). */
  storedSeq: number;
}

// ---- SSH (one session = one SSH connection; `channel` numbers its session channels) ----

/** A shell opened on a session channel; `pty` when the client asked for a terminal. */
export interface SshShellPayload {
  channel: number;
  pty: { term: string; cols: number; rows: number } | null;
}

/** An exec request: the command line and what policy decided about it. */
export interface SshExecPayload {
  channel: number;
  text: string;
  decision: RecordedDecision;
}

/**
 * Bytes of a channel, decoded as UTF-8 (a character split across chunks is kept
 * whole). stdout/stderr from the target; stdin from the client, recorded only when
 * the connection enables it (options.ssh.recordInput), since keystrokes can be passwords.
 */
export interface SshDataPayload {
  channel: number;
  stream: 'stdout' | 'stderr' | 'stdin';
  data: string;
}

/** The client's terminal changed size. */
export interface SshResizePayload {
  channel: number;
  cols: number;
  rows: number;
}

/** A signal the client sent to the remote process. */
export interface SshSignalPayload {
  channel: number;
  signal: string;
}

/** How the channel's command or shell ended: exit status, or the signal that ended it. */
export interface SshExitPayload {
  channel: number;
  code: number | null;
  signal?: string;
}

/** A request the gateway refused (port forwarding, agent forwarding, a subsystem...). */
export interface SshRefusedPayload {
  channel: number | null;
  request: string;
  reason: string;
}

/** A subsystem (sftp) relayed on a channel because the connection allows it. */
export interface SshSubsystemPayload {
  channel: number;
  name: string;
}

/** A file operation a relayed SFTP client asked for (names only; file contents are not recorded). */
export interface SshSftpPayload {
  channel: number;
  op: string;
  path: string;
  to?: string;
  write?: boolean;
}

/** The channel's output past the recording cap is no longer recorded (counts stay exact). */
export interface SshTruncatedPayload {
  channel: number;
  recordedBytes: number;
}

/**
 * One forwarded TCP connection (`ssh -L`, a direct-tcpip channel) when it ends: the
 * destination the target connected to and the bytes each way (client → target is
 * `bytesIn`); the bytes themselves are not recorded. `error` when it could not be opened.
 */
export interface SshForwardPayload {
  channel: number;
  host: string;
  port: number;
  bytesIn: number;
  bytesOut: number;
  error?: string;
}

export interface EventPayloads {
  'session.start': SessionStartPayload;
  query: QueryPayload;
  prepare: PreparePayload;
  execute: ExecutePayload;
  result: ResultPayload;
  error: ErrorPayload;
  notice: NoticePayload;
  notification: NotificationPayload;
  'review.requested': ReviewRequestedPayload;
  'review.decided': ReviewDecidedPayload;
  'session.end': SessionEndPayload;
  'ssh.shell': SshShellPayload;
  'ssh.exec': SshExecPayload;
  'ssh.data': SshDataPayload;
  'ssh.resize': SshResizePayload;
  'ssh.signal': SshSignalPayload;
  'ssh.exit': SshExitPayload;
  'ssh.refused': SshRefusedPayload;
  'ssh.subsystem': SshSubsystemPayload;
  'ssh.truncated': SshTruncatedPayload;
  'ssh.sftp': SshSftpPayload;
  'ssh.forward': SshForwardPayload;
}

/** Kinds a reader must understand; readers show unknown kinds generically (later issues add SSH/HTTP/review kinds). */
export type KnownEventKind = keyof EventPayloads;
export type EventKind = KnownEventKind | (string & {});
export type EventPayload = EventPayloads[KnownEventKind] | Record<string, unknown>;

/** The seal the gateway writes on the session row when the session ends. */
export interface RecordingSeal {
  sessionId: string;
  /** seq of the last event (so truncation is visible even before hashes are compared). */
  lastSeq: number;
  finalHash: string;
  /** base64 Ed25519 signature over sealMessage(). */
  signature: string;
  signingKeyId: string;
}
