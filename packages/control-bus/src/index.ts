import type { BusLogger, ControlBus } from './bus.js';
import { InProcessControlBus } from './in-process.js';
import { RedisControlBus } from './redis.js';

export {
  ControlBusUnavailableError,
  isTopicMessage,
  silentLogger,
  type BusHealth,
  type BusLogger,
  type ControlBus,
  type Handler,
} from './bus.js';
export { InProcessControlBus } from './in-process.js';
export {
  DEFAULT_CHANNEL_PREFIX,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
  RedisControlBus,
  type RedisControlBusOptions,
} from './redis.js';
export {
  TOPICS,
  TopicSchemas,
  type AccessRevoked,
  type AgentRevoked,
  type IdentityBlocked,
  type PolicyChanged,
  type ReviewCreated,
  type ReviewDecided,
  type SessionKill,
  type Topic,
  type TopicMessages,
} from './topics.js';

export interface ControlBusOptions {
  /** Redis URL; unset → in-process delivery (one process only: the embedded mode). */
  redisUrl: string | undefined;
  /** Channel prefix for Redis (default `warden:bus:`). */
  prefix?: string;
  logger?: BusLogger;
  /** How long to wait for Redis to confirm the subscription (default 10 s). */
  readyTimeoutMs?: number;
  /** Longest a publish, claim or health check waits for Redis (default 1 s; RedisControlBusOptions). */
  commandTimeoutMs?: number;
}

/**
 * The bus a process should use: Redis when configured (every replica must share it), in-process
 * otherwise. Waits until the bus receives, so nothing published after it returns is missed; a
 * Redis that does not answer is a startup error rather than a silently deaf replica.
 */
export async function createControlBus(options: ControlBusOptions): Promise<ControlBus> {
  if (!options.redisUrl) return new InProcessControlBus(options.logger);
  const bus = new RedisControlBus({
    url: options.redisUrl,
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
  });
  const timeoutMs = options.readyTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      bus.ready(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Redis did not confirm the control bus subscription within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    await bus.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return bus;
}
