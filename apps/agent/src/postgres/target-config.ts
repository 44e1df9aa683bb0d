import type { SecretSource } from '../credentials.js';

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-full';

/** What the gateway sends the agent to open a Postgres session (JSON in SessionOpen). */
export interface PostgresOpenRequest {
  kind: 'postgres';
  target: {
    host: string;
    port: number;
    database: string;
    user: string;
    sslmode: SslMode;
    /** PEM of the CA to trust for verify-full, or a `file:` reference. */
    sslrootcert?: string;
    password?: SecretSource;
  };
  /** Startup parameters the client asked for (application_name, DateStyle, ...). */
  startup: Record<string, string>;
}

/** A cancel for a live session, routed by the gateway to the agent holding it. */
export interface PostgresCancelRequest {
  kind: 'postgres-cancel';
  target: PostgresOpenRequest['target'];
  processId: number;
  secretKey: number;
}
