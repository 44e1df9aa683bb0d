import type { AddressInfo } from 'node:net';

/**
 * One client protocol the gateway terminates (Postgres today; SSH and HTTP next).
 * Each lives in its own folder and shares authentication (@warden/access), the
 * tunnel and the SessionTracker; adding a protocol means adding a folder.
 */
export interface ProtocolListener {
  readonly protocol: string;
  listen(): Promise<AddressInfo>;
  /** Stops accepting and ends live sessions of this protocol. */
  close(): Promise<void>;
}
