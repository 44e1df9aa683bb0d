import type { CommandDecision, ShellPolicy } from '@warden/policy';
import type { RecordedDecision } from '@warden/recording';
import { reviewUrl, type ReviewService } from '@warden/reviews';
import type { SessionRecorder } from '../recording/session-recorder.js';
import { reviewEvents } from '../review-events.js';

/** Exit status of a command refused by policy or by its review (as a shell's "cannot execute"). */
export const REFUSED_EXIT_STATUS = 126;

export interface GuardContext {
  policy: ShellPolicy;
  reviews: ReviewService;
  publicUrl: string;
  identityId: string;
  connectionId: string;
  sessionId: string;
  recorder: SessionRecorder | undefined;
  /** Aborted when the session ends: a held command's review is cancelled. */
  signal: AbortSignal;
  /** Lines for the client's stderr while it waits. */
  tell(line: string): void;
}

export type GuardOutcome = { run: true } | { run: false; message: string };

export function recordedDecision(decision: CommandDecision): RecordedDecision {
  const construct = decision.action === 'allow' || !decision.construct ? {} : { construct: decision.construct };
  if (decision.action === 'block')
    return { action: 'block', rule: decision.rule, message: decision.message, ...construct };
  if (decision.action === 'review') return { action: 'review', rule: decision.rule, ...construct };
  return { action: 'allow' };
}

/** `# justification: <text>` at the end of a command line, as SQL's `-- justification:` comment. */
export function justificationOf(command: string): string | undefined {
  const match = /#\s*justification:\s*(.+?)\s*$/im.exec(command);
  return match?.[1];
}

/**
 * What happens to an exec command the policy decided about: allowed commands run,
 * blocked ones are refused, and held ones wait for their review (the client is told
 * the review id and link on stderr, as Postgres clients get a NOTICE) and then run
 * or are refused with the outcome.
 */
export async function guardCommand(
  command: string,
  decision: CommandDecision,
  ref: number | undefined,
  ctx: GuardContext,
): Promise<GuardOutcome> {
  if (decision.action === 'allow') return { run: true };
  if (decision.action === 'block') return { run: false, message: decision.message };
  const requirement = decision.review;
  const justification = justificationOf(command);
  if (requirement.requireJustification && !justification) {
    return {
      run: false,
      message: `review rule "${decision.rule}" needs a justification: end the command with "# justification: ticket 123"`,
    };
  }
  const review = await ctx.reviews.createStatementReview({
    requester: { identityId: ctx.identityId },
    connectionId: ctx.connectionId,
    sessionId: ctx.sessionId,
    requirement,
    statement: command,
    params: [],
    justification: justification ?? null,
  });
  reviewEvents.requested(ctx.recorder, ref, review, decision.rule, requirement, justification);
  ctx.tell(`Warden: this command needs approval (rule "${decision.rule}"); waiting for review ${review.id}`);
  ctx.tell(`Warden: ${decision.message}`);
  ctx.tell(`Warden: approve or deny it at ${reviewUrl(ctx.publicUrl, review.id)}`);
  const outcome = await ctx.reviews.waitForDecision(review, {
    signal: ctx.signal,
    abortReason: 'the client session ended while the command waited',
  });
  reviewEvents.decided(ctx.recorder, ref, review.id, outcome);
  if (outcome.status === 'approved') {
    ctx.tell(`Warden: review ${review.id} approved${outcome.by ? ` by ${outcome.by.name}` : ''}; running`);
    return { run: true };
  }
  return { run: false, message: reviewEvents.refusal(review.id, outcome) };
}
