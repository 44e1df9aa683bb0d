import {
  COLUMN_CATALOG_QUERY,
  catalogLookup,
  catalogQueryParams,
  isDetectorId,
  isStrategy,
  resolveColumnRules,
  ResultMasker,
  TEXT_TYPE_CATALOG_QUERY,
  type CatalogRow,
  type ColumnRuleConfig,
  type DetectorId,
  type MaskingPlan,
  type Strategy,
} from '@warden/masking';
import type { SessionMasking } from '@warden/proto';
import type pg from 'pg';

/**
 * Builds the session's ResultMasker: column rules are resolved to table OID + attnum
 * through the target's catalog on the driver connection (before the socket is taken
 * over), so rows are matched by RowDescription origin, not by column name.
 */
export class SessionMaskingSetup {
  private plan: MaskingPlan = {};

  constructor(private readonly masking: SessionMasking | undefined) {}

  get active(): boolean {
    const m = this.masking;
    return !!m && (m.columns.length > 0 || Object.keys(m.detectors).length > 0);
  }

  /** Runs the catalog lookup; a beforeTakeover hook for connectTarget. */
  readonly prepare = async (client: pg.Client): Promise<void> => {
    const m = this.masking;
    if (!m) return;
    const columns: ColumnRuleConfig[] = m.columns
      .filter((c) => isStrategy(c.strategy))
      .map((c) => ({ column: c.column, strategy: c.strategy as Strategy }));
    const detectors: Partial<Record<DetectorId, Strategy>> = {};
    for (const [id, strategy] of Object.entries(m.detectors)) {
      if (isDetectorId(id) && isStrategy(strategy)) detectors[id] = strategy;
    }
    let resolved = new Map();
    if (columns.length) {
      const { rows } = await client.query<CatalogRow>(COLUMN_CATALOG_QUERY, catalogQueryParams(columns));
      resolved = resolveColumnRules(columns, catalogLookup(rows)).columns;
    }
    // Binary cells of citext, enums and domains over text are masked in place when the masker
    // knows their types send text; other user types are withheld whole on a detector finding.
    let textTypes: number[] = [];
    if (Object.keys(detectors).length) {
      const { rows } = await client.query<{ oid: string }>(TEXT_TYPE_CATALOG_QUERY);
      textTypes = rows.map((r) => Number(r.oid));
    }
    this.plan = { columns: resolved, detectors, textTypes };
  };

  masker(): ResultMasker {
    return new ResultMasker(this.plan, {
      trackFrontend: true,
      hashKey: Buffer.from(this.masking?.hashKey ?? '', 'base64'),
    });
  }
}
