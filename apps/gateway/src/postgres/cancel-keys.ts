import { randomInt } from 'node:crypto';

/** What a CancelRequest reaches: the live session the gateway's key was issued to. */
export interface Cancellable {
  cancel(): Promise<void>;
}

/**
 * The gateway hands clients its own BackendKeyData, never the target's, so a cancel
 * can only reach the session the key was issued to, through the agent that holds it.
 */
export class CancelKeys {
  private readonly sessions = new Map<string, Cancellable>();

  issue(session: Cancellable): { processId: number; secretKey: number; release(): void } {
    let processId: number;
    let secretKey: number;
    let key: string;
    do {
      processId = randomInt(1, 2 ** 31 - 1);
      secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
      key = `${processId}:${secretKey}`;
    } while (this.sessions.has(key));
    this.sessions.set(key, session);
    return { processId, secretKey, release: () => this.sessions.delete(key) };
  }

  find(processId: number, secretKey: number): Cancellable | undefined {
    return this.sessions.get(`${processId}:${secretKey}`);
  }
}
