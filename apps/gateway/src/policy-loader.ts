import type { PrismaClient } from '@warden/db';
import { compilePolicy, type CompiledPolicy, type PolicyRules } from '@warden/policy';
import type { SessionMasking } from '@warden/proto';
import type { SecretBox } from '@warden/runtime';

/** What a session enforces: decisions at the gateway, masking at the agent. */
export interface SessionPolicy {
  policy: CompiledPolicy;
  masking: SessionMasking | undefined;
  /** Names of the policies in force, for the session record. */
  names: string[];
}

/**
 * Merges the enabled policies attached to a connection into one rule document and
 * compiles it once per combination of policy versions: a changed policy gets a new
 * version, hence a new compiled policy with an empty decision cache.
 */
export class PolicyLoader {
  private readonly compiled = new Map<string, CompiledPolicy>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly hashSecret: SecretBox,
  ) {}

  async forConnection(connectionId: string): Promise<SessionPolicy> {
    const policies = await this.prisma.policy.findMany({
      where: { enabled: true, connections: { some: { id: connectionId } } },
      orderBy: { name: 'asc' },
    });
    const version = policies.map((p) => `${p.id}:${p.version}`).join(',');
    let policy = this.compiled.get(version);
    if (!policy) {
      const merged: PolicyRules = { guardrails: [], masking: { columns: [], detectors: [] } };
      for (const p of policies) {
        const rules = p.rules as PolicyRules;
        merged.guardrails!.push(...(rules.guardrails ?? []));
        if (rules.masking) {
          merged.masking!.columns!.push(...(rules.masking.columns ?? []));
          merged.masking!.detectors!.push(...(rules.masking.detectors ?? []));
          if (rules.masking.protectCatalogs === false) merged.masking!.protectCatalogs = false;
        }
      }
      policy = compilePolicy(merged, version);
      if (this.compiled.size > 1000) this.compiled.clear();
      this.compiled.set(version, policy);
    }
    return { policy, masking: this.masking(policy, connectionId), names: policies.map((p) => p.name) };
  }

  private masking(policy: CompiledPolicy, connectionId: string): SessionMasking | undefined {
    const { columns, detectors } = policy.masking;
    if (!columns.length && !Object.keys(detectors).length) return undefined;
    return {
      columns: columns.map((c) => ({ column: c.column, strategy: c.strategy })),
      detectors: { ...detectors },
      hashKey: this.hashKey(connectionId),
    };
  }

  /** Stable per connection, so `hash` masking gives equal outputs across sessions (joins work). */
  private hashKey(connectionId: string): string {
    return this.hashSecret.derive(`masking-hash:${connectionId}`).toString('base64');
  }
}
