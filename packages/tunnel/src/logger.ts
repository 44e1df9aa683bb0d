/** Minimal logger the tunnel writes to; pino, console and test spies all fit. */
export interface TunnelLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: TunnelLogger = {
  info() {},
  warn() {},
  error() {},
};
