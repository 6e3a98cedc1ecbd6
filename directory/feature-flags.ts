import type { Pool } from 'pg';

/** LaunchDarkly-shaped evaluation context (single kind). */
export interface FlagContext {
  kind: string; // e.g. 'sponsor'
  key: string;
  attributes?: Record<string, string | number | boolean>;
}

/** The subset of a LaunchDarkly client the directory needs; an LD SDK client can be adapted to it. */
export interface FeatureFlagProvider {
  variation(flagKey: string, context: FlagContext, defaultValue: boolean): Promise<boolean>;
  /**
   * Whether the flag exists (not cached as missing: a flag created a moment ago counts). Optional: a provider
   * without it (e.g. an LD client without flag listing) lets SubmitBatch accept any key, evaluated as unknown.
   */
  exists?(flagKey: string): Promise<boolean>;
}

interface FlagRow {
  enabled: boolean;
  fallthrough: boolean;
  off: boolean;
  targets: Map<string, boolean>;
}

/**
 * Database-backed flags (tables feature_flags, feature_flag_targets) with LaunchDarkly semantics:
 * unknown flag → default; flag off → off value; individual target for (kind, key) → its value;
 * otherwise the fallthrough value. Flags are cached for `ttlMs` so resolving a flag for every sponsor
 * costs one query.
 */
export class PgFeatureFlagProvider implements FeatureFlagProvider {
  private cache = new Map<string, { at: number; row: FlagRow | null }>();

  constructor(
    private readonly pool: Pool,
    private readonly ttlMs = 30_000,
    private readonly clock: () => number = Date.now,
  ) {}

  private async load(flagKey: string): Promise<FlagRow | null> {
    const hit = this.cache.get(flagKey);
    if (hit && this.clock() - hit.at < this.ttlMs) return hit.row;
    const flag = await this.pool.query<{ enabled: boolean; fallthrough_value: boolean; off_value: boolean }>(
      'SELECT enabled, fallthrough_value, off_value FROM feature_flags WHERE flag_key = $1',
      [flagKey],
    );
    let row: FlagRow | null = null;
    const f = flag.rows[0];
    if (f) {
      const targets = await this.pool.query<{ context_kind: string; context_key: string; value: boolean }>(
        'SELECT context_kind, context_key, value FROM feature_flag_targets WHERE flag_key = $1',
        [flagKey],
      );
      row = {
        enabled: f.enabled,
        fallthrough: f.fallthrough_value,
        off: f.off_value,
        targets: new Map(targets.rows.map((t) => [`${t.context_kind}\u0000${t.context_key}`, t.value])),
      };
    }
    this.cache.set(flagKey, { at: this.clock(), row });
    return row;
  }

  async exists(flagKey: string): Promise<boolean> {
    const cached = this.cache.get(flagKey);
    if (cached?.row && this.clock() - cached.at < this.ttlMs) return true;
    this.cache.delete(flagKey);
    return (await this.load(flagKey)) !== null;
  }

  async variation(flagKey: string, context: FlagContext, defaultValue: boolean): Promise<boolean> {
    const flag = await this.load(flagKey);
    if (!flag) return defaultValue;
    if (!flag.enabled) return flag.off;
    return flag.targets.get(`${context.kind}\u0000${context.key}`) ?? flag.fallthrough;
  }
}

/**
 * Resolves MemberQuery.required_feature_flags at sponsor granularity: customer-level flags are targeted
 * per sponsor, and evaluating per member would mean pulling every member out of the database. Unknown
 * flags evaluate to false.
 */
export async function resolveFlagSponsors(
  provider: FeatureFlagProvider,
  required: Readonly<Record<string, boolean>>,
  sponsorIds: readonly string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const [flag, wanted] of Object.entries(required)) {
    const matching: string[] = [];
    for (const sponsorId of sponsorIds) {
      if ((await provider.variation(flag, { kind: 'sponsor', key: sponsorId }, false)) === wanted) matching.push(sponsorId);
    }
    out.set(flag, matching);
  }
  return out;
}
