/** The shapes the console reads from the public API (see GET /api/openapi.json). */
export type Role = 'admin' | 'auditor' | 'user';

export interface Ref {
  id: string;
  name: string;
}

export interface Me {
  id: string;
  name: string;
  kind: 'user' | 'service';
  role: Role;
  status: string;
  displayName: string | null;
  groups: { id: string; name: string }[];
}

export type Param = string | null | { binary: string };

export interface Review {
  id: string;
  kind: 'statement' | 'access';
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  rule: string | null;
  requester: Ref;
  connection: Ref;
  sessionId: string | null;
  statement: string | null;
  parameters: Param[] | null;
  justification: string | null;
  accessSeconds: number | null;
  approverGroups: string[];
  requiredApprovals: number;
  approvals: number;
  decisions: { by: Ref; decision: 'approve' | 'deny'; comment: string | null; at: string }[];
  canDecide: boolean;
  expiresAt: string;
  decidedAt: string | null;
  createdAt: string;
}

export interface SessionItem {
  id: string;
  identity: Ref;
  connection: Ref;
  protocol: string;
  status: 'active' | 'closed' | 'interrupted' | 'killed' | 'failed';
  clientAddr: string | null;
  startedAt: string;
  endedAt: string | null;
  counts: { statements: number; blocked: number; reviews: number; events: number; bytesIn: number; bytesOut: number };
  sealed: boolean;
}

export interface SessionDetail extends SessionItem {
  agent: Ref | null;
  clientTls: boolean;
  clientUser: string | null;
  endReason: string | null;
  maskedCells: Record<string, unknown>;
}

export interface RecordedEvent {
  seq: number;
  t: string;
  direction: 'client' | 'server' | 'gateway';
  kind: string;
  payload: Record<string, unknown>;
}

export interface VerifyReport {
  ok: boolean;
  eventCount: number;
  chain: 'intact' | 'broken';
  brokenAt?: { seq: number; reason: string; detail: string };
  seal: string;
  summary: string;
}

export interface Connection {
  id: string;
  name: string;
  type: 'postgres' | 'ssh' | 'http';
  description: string | null;
  agent: { id: string; name: string; status: string };
  config: Record<string, unknown>;
  secrets: Record<string, { source: string; ref?: string }>;
  allowedGroups: string[];
  options: Record<string, unknown>;
  policies: { id: string; name: string; kind: string }[];
  /** What the agent last reported about the role it logs in as (Postgres); null until a session did. */
  targetRole: { superuser: boolean; createRole: boolean; serverFileRoles: string[]; reportedAt: string } | null;
  /** Privileges no policy can contain, in plain words. */
  warnings: string[];
  createdAt: string;
  updatedAt: string;
}

export interface Policy {
  id: string;
  name: string;
  kind: 'guardrail' | 'masking' | 'review';
  description: string | null;
  enabled: boolean;
  rules: Record<string, unknown>;
  version: number;
  connections: Ref[];
  updatedAt: string;
}
