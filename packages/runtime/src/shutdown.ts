import { loadConfig } from './config.js';
import type { Logger } from './logger.js';

/** Default of WARDEN_SHUTDOWN_GRACE_MS (config.ts). */
const DEFAULT_GRACE_MS = 25_000;

export interface StopOptions {
  /**
   * How long `stop` may take before the process exits anyway with code 1; default the configured
   * WARDEN_SHUTDOWN_GRACE_MS (25 s).
   */
  graceMs?: number;
}

/**
 * Stops the process in order on SIGINT or SIGTERM, then exits 0 (1 when the stop itself fails).
 * Main modules call it before their start-up's last await, so a signal that arrives while they are
 * still starting, or just after they announced they are listening, runs `stop` (which waits for
 * the start to finish and undoes it) rather than Node's default of dying on the spot. A second
 * signal while stopping is ignored: the first stop is already flushing what it must.
 *
 * Bounded: a stop still running after the grace period (a Redis or a database that does not
 * answer, a client that never lets go) is logged and the process exits 1, so an orchestrator never
 * has to kill it and a stopped process never lingers half-closed.
 */
export function stopOnSignals(
  logger: Logger,
  name: string,
  stop: () => Promise<void>,
  options: StopOptions = {},
): void {
  const graceMs = options.graceMs ?? configuredGraceMs();
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, graceMs }, `${name} stopping`);
      // Not unref'd: it is what ends the process when the stop waits on something that never comes.
      const deadline = setTimeout(() => {
        logger.error({ graceMs }, `${name} did not stop within ${graceMs} ms; exiting anyway`);
        process.exit(1);
      }, graceMs);
      stop().then(
        () => {
          clearTimeout(deadline);
          process.exit(0);
        },
        (err: unknown) => {
          clearTimeout(deadline);
          logger.error({ err }, `${name} did not stop cleanly`);
          process.exit(1);
        },
      );
    });
  }
}

/** WARDEN_SHUTDOWN_GRACE_MS; the default when the configuration cannot be read (it was, to start). */
function configuredGraceMs(): number {
  try {
    return loadConfig().shutdownGraceMs;
  } catch {
    return DEFAULT_GRACE_MS;
  }
}
