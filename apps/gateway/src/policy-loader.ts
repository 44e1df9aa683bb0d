import type { PrismaClient } from '@warden/db';
import { compilePolicy, mergePolicyRules, type CompiledPolicy, type Decision, type PolicyRules } from '@warden/policy';
import type { SessionMasking } from '@warden/proto';
import type { SecretBox } from '@warden/runtime';

/** What a session enforces: decisions at the gateway, masking at the agent. */
export interface SessionPolicy {
  /** Compiled to hold statements for review: the gateway can wait for approvals. */
  policy: CompiledPolicy<Decision>;
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
  private readonly compiled = new Map<string, CompiledPolicy<Decision>>();

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
      const merged = mergePolicyRules(policies.map((p) => p.rules as PolicyRules));
      policy = compilePolicy(merged, version, { reviews: 'hold' });
      if (this.compiled.size > 1000) this.compiled.clear();
      this.compiled.set(version, policy);
    }
    return { policy, masking: this.masking(policy, connectionId), names: policies.map((p) => p.name) };
  }

  private masking(policy: CompiledPolicy<Decision>, connectionId: string): SessionMasking | undefined {
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
