import type { RowLimit } from '@warden/policy';
import { MAX_NAMES } from './review-hold.js';

/** A prepared statement or portal whose statement runs under a max_rows_affected rule. */
export interface LimitedName {
  /** The statement's text (the blocked event names it by hash). */
  text: string;
  rowLimit: RowLimit;
}

/**
 * Follows the extended protocol far enough to know, at an Execute, whether the portal it runs
 * holds a statement policy limited at its Parse. Only limited names are kept: a session without
 * row limits pays two lookups in empty maps per Parse and Bind.
 *
 * Stale entries are harmless: a Parse or Bind of the same name replaces them, and an Execute of a
 * portal the server no longer has fails on the server, whatever the gateway thought it held.
 */
export class RowLimitNames {
  private readonly statements = new Map<string, LimitedName>();
  private readonly portals = new Map<string, LimitedName>();

  /**
   * Remembers what a Parse prepares. False when a limited statement cannot be remembered (the
   * session already holds MAX_NAMES of them): the caller must refuse the Parse, or its Executes
   * would run unmeasured.
   */
  parse(name: string, text: string, rowLimit: RowLimit | undefined): boolean {
    if (!rowLimit) {
      if (this.statements.size > 0) this.statements.delete(name);
      return true;
    }
    if (this.statements.size >= MAX_NAMES && !this.statements.has(name)) return false;
    this.statements.set(name, { text, rowLimit });
    return true;
  }

  /**
   * A Bind makes `portal` run `statement`: limited exactly when that statement is. False, as for
   * parse(), when a limited portal cannot be remembered: the caller must refuse the Bind.
   */
  bind(portal: string, statement: string): boolean {
    const limited = this.statements.size > 0 ? this.statements.get(statement) : undefined;
    if (!limited) {
      if (this.portals.size > 0) this.portals.delete(portal);
      return true;
    }
    if (this.portals.size >= MAX_NAMES && !this.portals.has(portal)) return false;
    this.portals.set(portal, limited);
    return true;
  }

  /** The limit an Execute of `portal` runs under, if any. */
  at(portal: string): LimitedName | undefined {
    return this.portals.size > 0 ? this.portals.get(portal) : undefined;
  }
}
