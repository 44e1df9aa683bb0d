/** What a connection's `options.recording` says, with the defaults filled in. */
export interface RecordingOptions {
  enabled: boolean;
  /** Rows (or COPY lines) captured per statement; counts are always exact. */
  maxRows: number;
  /** Bytes of row data captured per statement. */
  maxBytes: number;
}

export const DEFAULT_RECORDING_OPTIONS: RecordingOptions = { enabled: true, maxRows: 100, maxBytes: 64 * 1024 };

/** Reads the connection's options leniently: the API validated them on write. */
export function recordingOptionsOf(connectionOptions: unknown): RecordingOptions {
  const raw = (connectionOptions as { recording?: Partial<RecordingOptions> } | null)?.recording ?? {};
  const int = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback);
  return {
    enabled: raw.enabled !== false,
    maxRows: int(raw.maxRows, DEFAULT_RECORDING_OPTIONS.maxRows),
    maxBytes: int(raw.maxBytes, DEFAULT_RECORDING_OPTIONS.maxBytes),
  };
}
