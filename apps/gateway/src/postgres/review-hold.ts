import { formatCode, type BindMessage, type ParseMessage } from '@warden/pg-wire';
import type { ReviewDecision } from '@warden/policy';
import type { StatementParam } from '@warden/reviews';

/** A statement the gateway holds until people approve it. */
export interface HeldStatement {
  kind: 'query' | 'execute';
  /** Exactly what would run: the Query text, or the prepared statement's text. */
  text: string;
  params: StatementParam[];
  review: ReviewDecision;
  /** What to forward once approved (the Query, or the Execute). */
  frame: Buffer;
  /** seq of the statement's recorded event, when the session is recorded. */
  seq?: number | undefined;
}

/** Named statements and portals a session's trackers remember (the server bounds them too). */
export const MAX_NAMES = 10_000;

/**
 * Follows the extended protocol far enough to know, at an Execute, whether the
 * statement it runs needs a review and with which parameters: the decision is made at
 * Parse, the parameters arrive with Bind, and the statement is held at Execute.
 */
export class ExtendedReviewTracker {
  private readonly statements = new Map<string, { text: string; review: ReviewDecision }>();
  private readonly portals = new Map<string, { text: string; review: ReviewDecision; params: StatementParam[] }>();

  parse(message: ParseMessage, review: ReviewDecision | null): void {
    if (review && (this.statements.size < MAX_NAMES || this.statements.has(message.name))) {
      this.statements.set(message.name, { text: message.query, review });
    } else {
      this.statements.delete(message.name);
    }
  }

  bind(message: BindMessage): void {
    const statement = this.statements.get(message.statement);
    if (!statement) {
      this.portals.delete(message.portal);
      return;
    }
    if (this.portals.size >= MAX_NAMES && !this.portals.has(message.portal)) return;
    const params = message.params.map((value, i): StatementParam => {
      if (value === null) return null;
      return formatCode(message.paramFormats, i) === 1 ? new Uint8Array(value) : value.toString('utf8');
    });
    this.portals.set(message.portal, { text: statement.text, review: statement.review, params });
  }

  close(target: 'S' | 'P', name: string): void {
    (target === 'S' ? this.statements : this.portals).delete(name);
  }

  /** The review an Execute of this portal needs, or null when it may run. */
  atExecute(portal: string, frame: Buffer): HeldStatement | null {
    const bound = this.portals.get(portal);
    if (!bound) return null;
    return { kind: 'execute', text: bound.text, params: bound.params, review: bound.review, frame };
  }
}

/**
 * The justification a client gave with a held statement: a comment in the statement,
 * `-- justification: why` or `/* justification: why *\/`. psql users and AI agents can
 * both write one without any client support.
 */
export function justificationOf(text: string): string | undefined {
  const match = /(?:--|\/\*)\s*justification\s*:\s*(.+?)\s*(?:\*\/|$)/im.exec(text);
  return match?.[1] || undefined;
}
