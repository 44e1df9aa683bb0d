import { SqlState } from '@warden/pg-wire';
import type { SessionFacts, TargetRoleFacts } from '@warden/policy';
import { decodeFactsReport, type SessionFactsReport } from '@warden/proto';

/**
 * What a guarded Postgres session needs from its agent before the gateway relays a byte: the
 * target role's attributes and the catalog facts ("facts" report, read by the agent at session
 * start). Without them, or with partial ones, the session is refused: policy does not judge
 * statements blind. A privileged target role with column masking is refused too, unless the
 * connection opts in, since such a role reads masked values through server files.
 */

/** Server-file roles through which a role reads what column masking hides (write-only is not enough). */
const READING_ROLES = ['pg_read_server_files', 'pg_execute_server_program'];

/** Connection option that lets column masking run on a privileged target role (API: connections schemas). */
export const ALLOW_PRIVILEGED_TARGET_OPTION = 'allowPrivilegedTargetWithMasking';

export function allowsPrivilegedTargetWithMasking(options: unknown): boolean {
  return (options as Record<string, unknown> | null)?.[ALLOW_PRIVILEGED_TARGET_OPTION] === true;
}

/** Whether the role can read the server's files or run programs there, past any statement policy. */
export function readsServerFiles(role: TargetRoleFacts): boolean {
  return role.superuser || role.serverFileRoles.some((r) => READING_ROLES.includes(r));
}

function describeRole(role: TargetRoleFacts): string {
  if (role.superuser) return 'a superuser';
  const roles = role.serverFileRoles.filter((r) => READING_ROLES.includes(r));
  return `a member of ${roles.join(' and ')}`;
}

export interface FactsContext {
  connection: string;
  agent: string;
  /** The connection's policies mask columns. */
  masksColumns: boolean;
  /** The connection's options opt in to masking on a privileged target role. */
  allowPrivileged: boolean;
}

export type FactsVerdict =
  { admitted: true; facts: SessionFacts } | { admitted: false; code: string; message: string; facts?: SessionFacts };

/**
 * Receives a session's "facts" report and decides whether the session may start. The agent sends
 * the report before SessionOpened, so it is here (or never coming) once the session is open.
 */
export class SessionFactsReceiver {
  private report: SessionFactsReport | undefined;
  private unreadable: string | undefined;

  /** Takes the first facts report; a later one could only try to swap the catalog mid-session. */
  receive(payload: Buffer): void {
    if (this.report || this.unreadable) return;
    try {
      this.report = decodeFactsReport(payload);
    } catch (error) {
      this.unreadable = (error as Error).message;
    }
  }

  verdict(context: FactsContext): FactsVerdict {
    const unable = SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
    if (this.unreadable) {
      return {
        admitted: false,
        code: unable,
        message: `agent "${context.agent}" sent unreadable target facts (${this.unreadable}); connection "${context.connection}" enforces policies and cannot start without them`,
      };
    }
    const report = this.report;
    if (!report) {
      return {
        admitted: false,
        code: unable,
        message: `agent "${context.agent}" did not report the target's role and catalog facts, which connection "${context.connection}" needs to enforce its policies; upgrade the agent`,
      };
    }
    // The tunnel's report shape and the policy's contract must stay the same shape: this assignment checks it.
    const facts: SessionFacts = { role: report.role, catalog: report.catalog };
    if (!report.complete) {
      const lists = report.truncated?.length ? report.truncated.join(', ') : 'catalog';
      return {
        admitted: false,
        code: SqlState.INSUFFICIENT_PRIVILEGE,
        facts,
        message: `connection "${context.connection}": the target has more user-defined ${lists} than the agent reads at session start; refusing rather than judging statements with partial catalog facts`,
      };
    }
    if (context.masksColumns && readsServerFiles(report.role) && !context.allowPrivileged) {
      return {
        admitted: false,
        code: SqlState.INSUFFICIENT_PRIVILEGE,
        facts,
        message: `connection "${context.connection}" masks columns, but its target role is ${describeRole(report.role)}, which can read masked values through server files no policy sees; use a least-privilege target role, or set the connection option ${ALLOW_PRIVILEGED_TARGET_OPTION}`,
      };
    }
    return { admitted: true, facts };
  }
}
