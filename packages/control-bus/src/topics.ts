import { Type, type Static, type TSchema } from 'typebox';

/**
 * What must reach every replica (DESIGN.md, "Scale-out"): the gateway holding a live session
 * acts on decisions, kills and containment made through any API instance. Messages are small
 * JSON objects; each topic has a schema so a receiver drops anything malformed instead of
 * acting on it.
 */

const Id = Type.String({ minLength: 1, maxLength: 200 });
const Actor = Type.Object({ id: Id, name: Type.String({ maxLength: 200 }) });

export const TopicSchemas = {
  /** A review was created (by a gateway or the API): the API enqueues its notification. */
  'review.created': Type.Object({ reviewId: Id }),
  /** A review reached a final state: the gateway holding its statement resumes or refuses it. */
  'review.decided': Type.Object({
    reviewId: Id,
    status: Type.Union([
      Type.Literal('approved'),
      Type.Literal('denied'),
      Type.Literal('expired'),
      Type.Literal('cancelled'),
    ]),
    by: Type.Optional(Actor),
    comment: Type.Optional(Type.String()),
  }),
  /** End one live session (Postgres clients get 57P01 with the reason). */
  'session.kill': Type.Object({ sessionId: Id, reason: Type.String(), by: Type.Optional(Actor) }),
  /** End every live session of the identity and refuse new ones. */
  'identity.blocked': Type.Object({ identityId: Id, reason: Type.String() }),
  /** Disconnect the agent: its key no longer works. */
  'agent.revoked': Type.Object({ agentId: Id }),
  /** Policies changed: recompile for these connections (all when absent). */
  'policy.changed': Type.Object({ connectionIds: Type.Optional(Type.Array(Id)) }),
  /**
   * A credential stopped working (a sign-in ended, an API key was revoked, an SSH key was
   * removed): end the live sessions that were opened with it. New connections are refused by
   * authentication already.
   */
  'credential.revoked': Type.Object({
    authSessionId: Type.Optional(Id),
    apiKeyId: Type.Optional(Id),
    sshKeyId: Type.Optional(Id),
    reason: Type.String({ maxLength: 500 }),
  }),
  /** An access grant was revoked: end the identity's sessions on the connection that relied on it. */
  'access.revoked': Type.Object({ identityId: Id, connectionId: Id, grantId: Id }),
  /** A catalog event was stored (packages/events): API replicas dispatch and stream it now, not at their next poll. */
  event: Type.Object({ id: Id, type: Type.String({ maxLength: 100 }) }),
} satisfies Record<string, TSchema>;

export type Topic = keyof typeof TopicSchemas;
export type TopicMessages = { [T in Topic]: Static<(typeof TopicSchemas)[T]> };

export const TOPICS = Object.keys(TopicSchemas) as Topic[];

export type ReviewCreated = TopicMessages['review.created'];
export type ReviewDecided = TopicMessages['review.decided'];
export type SessionKill = TopicMessages['session.kill'];
export type IdentityBlocked = TopicMessages['identity.blocked'];
export type AgentRevoked = TopicMessages['agent.revoked'];
export type PolicyChanged = TopicMessages['policy.changed'];
export type AccessRevoked = TopicMessages['access.revoked'];
export type CredentialRevoked = TopicMessages['credential.revoked'];
export type EventStored = TopicMessages['event'];
