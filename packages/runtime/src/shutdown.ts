import type { Logger } from './logger.js';

/**
 * Stops the process in order on SIGINT or SIGTERM, then exits 0 (1 when the stop itself fails).
 * Main modules call it before their start-up's last await, so a signal that arrives while they are
 * still starting, or just after they announced they are listening, runs `stop` (which waits for
 * the start to finish and undoes it) rather than Node's default of dying on the spot. A second
 * signal while stopping is ignored: the first stop is already flushing what it must.
 */
export function stopOnSignals(logger: Logger, name: string, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, `${name} stopping`);
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, `${name} did not stop cleanly`);
          process.exit(1);
        },
      );
    });
  }
}
