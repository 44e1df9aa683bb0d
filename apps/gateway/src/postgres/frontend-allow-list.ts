import type { FrontendMessageKind } from '@warden/pg-wire';

/**
 * The frontend messages a guarded session relays after startup: those whose effect the policy
 * judges (Query, Parse and the Bind/Execute of what was parsed) or that carry no statement of
 * their own. A FunctionCall is refused in its place (42501, see FUNCTION_CALL_REFUSED); any
 * other message (a password message out of turn, say) is a protocol violation that ends the
 * client. Unguarded sessions are a transparent proxy and relay every message.
 */
export const GUARDED_FRONTEND_MESSAGES: ReadonlySet<FrontendMessageKind> = new Set<FrontendMessageKind>([
  'query',
  'parse',
  'bind',
  'describe',
  'execute',
  'close',
  'sync',
  'flush',
  'copyData',
  'copyDone',
  'copyFail',
  'terminate',
]);

/** The rule name a refused FunctionCall is recorded under. */
export const FUNCTION_CALL_RULE = 'protocol.function-call';

/** What a client is told when it sends a FunctionCall on a guarded connection. */
export const FUNCTION_CALL_REFUSED =
  'the fast-path function call interface cannot be judged by policy; call the function in a SQL statement instead';
