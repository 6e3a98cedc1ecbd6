import { clone } from '@bufbuild/protobuf';
import type { Pool } from 'pg';
import { MemberQuerySchema, type MemberQuery } from '../gen/rte/v1/member_query_pb';
import type { MemberRecord } from '../lib/member-record';
import { FieldError } from '../lib/errors';
import { PgFeatureFlagProvider, resolveFlagSponsors, type FeatureFlagProvider } from './feature-flags';
import type { MemberDirectory, MemberPage, MemberSummary } from './member-directory';
import { compileMemberQuery, type CompileContext } from './query/compile';

export interface PgMemberDirectoryOptions {
  /** Evaluation time for relative filters; default wall clock. Local synthetic data may pin it to the population's reference time. */
  now?: () => Date;
  flags?: FeatureFlagProvider;
  /** How long the catalog (sponsor, population, plan, contract and service ids; contract predicates) is cached. */
  catalogTtlMs?: number;
  /** Per-statement timeout for member queries. */
  statementTimeoutMs?: number;
}

/** What the directory knows by id: a query naming an id outside these is refused at submit (checkQuery). */
interface Catalog {
  at: number;
  sponsors: string[];
  predicates: Map<string, string>;
  populations: ReadonlySet<string>;
  plans: ReadonlySet<string>;
  contracts: ReadonlySet<string>;
  /** Every healthcare service some benefit contract offers (active, future or expired). */
  services: ReadonlySet<string>;
}

type CatalogIds = 'sponsors' | 'populations' | 'plans' | 'contracts' | 'services';

/**
 * USPS codes of the 50 states, DC, the inhabited territories and the armed-forces addresses: a fixed list of 59
 * two-letter codes, written out rather than pulled in as a dependency.
 */
const US_STATE_CODES: ReadonlySet<string> = new Set(
  (
    'AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC ' +
    'SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP AA AE AP'
  ).split(' '),
);

interface SummaryRow {
  member_id: string;
  sponsor_id: string;
  time_zone: string;
  state: string;
  account_status: string;
  last_active_at: Date | null;
  app_usage_probability: number | null;
  created_at: Date;
  sort_key: unknown;
}

export class PgMemberDirectory implements MemberDirectory {
  private readonly now: () => Date;
  private readonly flags: FeatureFlagProvider;
  private catalog: Catalog | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly opts: PgMemberDirectoryOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.flags = opts.flags ?? new PgFeatureFlagProvider(pool);
  }

  private async loadCatalog(fresh = false): Promise<Catalog> {
    const ttl = this.opts.catalogTtlMs ?? 60_000;
    if (!fresh && this.catalog && Date.now() - this.catalog.at < ttl) return this.catalog;
    const [sponsors, predicates, populations, plans, contracts] = await Promise.all([
      this.pool.query<{ sponsor_id: string }>('SELECT sponsor_id FROM sponsors ORDER BY sponsor_id'),
      this.pool.query<{ predicate_id: string; expression: string }>('SELECT predicate_id, expression FROM benefit_predicates'),
      this.pool.query<{ population_id: string }>('SELECT population_id FROM populations'),
      this.pool.query<{ plan_id: string }>('SELECT plan_id FROM insurance_plans'),
      this.pool.query<{ contract_id: string; healthcare_service_ids: string[] }>('SELECT contract_id, healthcare_service_ids FROM benefit_contracts'),
    ]);
    this.catalog = {
      at: Date.now(),
      sponsors: sponsors.rows.map((r) => r.sponsor_id),
      predicates: new Map(predicates.rows.map((r) => [r.predicate_id, r.expression])),
      populations: new Set(populations.rows.map((r) => r.population_id)),
      plans: new Set(plans.rows.map((r) => r.plan_id)),
      contracts: new Set(contracts.rows.map((r) => r.contract_id)),
      services: new Set(contracts.rows.flatMap((r) => r.healthcare_service_ids)),
    };
    return this.catalog;
  }

  private async context(query: MemberQuery): Promise<CompileContext> {
    const ctx: CompileContext = { now: this.now() };
    const needsFlags = Object.keys(query.requiredFeatureFlags).length > 0;
    const needsPredicates = query.predicateFilter?.benefitContractId !== undefined || query.predicateFilter?.healthcareServiceId !== undefined;
    if (needsFlags || needsPredicates) {
      const catalog = await this.loadCatalog();
      if (needsFlags) ctx.flagSponsors = await resolveFlagSponsors(this.flags, query.requiredFeatureFlags, catalog.sponsors);
      if (needsPredicates) ctx.contractPredicates = catalog.predicates;
    }
    return ctx;
  }

  private async run<T extends object>(sql: string, params: unknown[]): Promise<T[]> {
    if (!this.opts.statementTimeoutMs) return (await this.pool.query<T>(sql, params)).rows;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL statement_timeout = ${Math.floor(this.opts.statementTimeoutMs)}`);
      const r = await client.query<T>(sql, params);
      await client.query('COMMIT');
      return r.rows;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async queryMembers(query: MemberQuery): Promise<MemberPage> {
    const compiled = compileMemberQuery(query, await this.context(query));
    const rows = await this.run<SummaryRow>(compiled.sql, compiled.params);
    const page = rows.slice(0, compiled.limit);
    const last = page[page.length - 1];
    return {
      members: page.map(toSummary),
      nextCursor: rows.length > compiled.limit && last ? compiled.cursorAfter(last) : null,
    };
  }

  /**
   * Compiles the query exactly as queryMembers would (catalog lookups included) without running it: throws the
   * FieldError (field path and position) a bad query would fail with. SubmitBatch calls it before acceptance.
   */
  async checkQuery(query: MemberQuery): Promise<void> {
    compileMemberQuery(query, await this.context(query));
    await this.checkKnownKeys(query);
  }

  /**
   * An id the directory does not know (sponsor, population, insurance plan, benefit contract, healthcare service), a
   * state that is not a US state code, or a feature-flag key it does not know is refused, naming the field and its
   * index: a typo would otherwise select nobody (a batch COMPLETED with 0 members) or, for a flag required false,
   * every sponsor. queryMembers (a search) still answers such a query with what it selects.
   */
  private async checkKnownKeys(query: MemberQuery): Promise<void> {
    const bcf = query.benefitContractFilter;
    const pf = query.predicateFilter;
    // In the proto's field order, so the first unknown id reported is the first one the client wrote.
    const checks: { path: string; values: readonly string[]; indexed: boolean; ids: CatalogIds; what: string; hint?: string }[] = [
      { path: 'member_query.sponsor_ids', values: query.sponsorIds, indexed: true, ids: 'sponsors', what: 'sponsor id' },
      { path: 'member_query.population_ids', values: query.populationIds, indexed: true, ids: 'populations', what: 'population id' },
      { path: 'member_query.benefit_contract_filter.healthcare_service_ids', values: bcf?.healthcareServiceIds ?? [], indexed: true, ids: 'services', what: 'healthcare service id', hint: ' (no benefit contract offers it)' },
      { path: 'member_query.benefit_contract_filter.insurance_plan_ids', values: bcf?.insurancePlanIds ?? [], indexed: true, ids: 'plans', what: 'insurance plan id' },
      { path: 'member_query.predicate_filter.benefit_contract_id', values: pf?.benefitContractId !== undefined ? [pf.benefitContractId] : [], indexed: false, ids: 'contracts', what: 'benefit contract id' },
      { path: 'member_query.predicate_filter.healthcare_service_id', values: pf?.healthcareServiceId !== undefined ? [pf.healthcareServiceId] : [], indexed: false, ids: 'services', what: 'healthcare service id', hint: ' (no benefit contract offers it)' },
      { path: 'member_query.insurance_plan_filter.insurance_plan_ids', values: query.insurancePlanFilter?.insurancePlanIds ?? [], indexed: true, ids: 'plans', what: 'insurance plan id' },
    ];
    if (checks.some((c) => c.values.length > 0)) {
      let catalog = await this.loadCatalog();
      const has = (c: Catalog, ids: CatalogIds, v: string) => (ids === 'sponsors' ? c.sponsors.includes(v) : c[ids].has(v));
      // An id added since the cached catalog was read is not refused.
      if (checks.some((c) => c.values.some((v) => !has(catalog, c.ids, v)))) catalog = await this.loadCatalog(true);
      for (const c of checks) {
        const i = c.values.findIndex((v) => !has(catalog, c.ids, v));
        if (i >= 0) throw new FieldError(c.indexed ? `${c.path}[${i}]` : c.path, `unknown ${c.what} ${JSON.stringify(c.values[i])}${c.hint ?? ''}`);
      }
    }
    const states = query.demographicsFilter?.states ?? [];
    const badState = states.findIndex((s) => !US_STATE_CODES.has(s));
    if (badState >= 0) throw new FieldError(`member_query.demographics_filter.states[${badState}]`, `${JSON.stringify(states[badState])} is not a US state code (two capital letters, e.g. "CA")`);
    if (this.flags.exists) {
      for (const key of Object.keys(query.requiredFeatureFlags)) {
        if (!(await this.flags.exists(key))) {
          throw new FieldError(`member_query.required_feature_flags[${JSON.stringify(key)}]`, 'unknown feature flag (an unknown flag evaluates to false for every sponsor)');
        }
      }
    }
  }

  async countMembers(query: MemberQuery): Promise<number> {
    const q = clone(MemberQuerySchema, query);
    q.cursor = '';
    const compiled = compileMemberQuery(q, await this.context(q));
    const rows = await this.run<{ count: number }>(compiled.countSql, compiled.countParams);
    return rows[0]?.count ?? 0;
  }

  async getMemberRecords(memberIds: readonly string[]): Promise<Map<string, MemberRecord>> {
    const out = new Map<string, MemberRecord>();
    if (memberIds.length === 0) return out;
    const r = await this.pool.query<{
      member_id: string;
      first_name: string;
      last_name: string;
      dob: string;
      gender: string;
      payer_member_id: string;
      payer_id: string;
      payer_name: string;
      time_zone: string;
      sponsor_id: string;
    }>(
      `SELECT m.member_id, m.first_name, m.last_name, to_char(m.date_of_birth, 'YYYY-MM-DD') AS dob, m.gender,
              m.payer_member_id, p.payer_id, p.payer_name, m.time_zone, m.sponsor_id
         FROM members m JOIN insurance_plans p ON p.plan_id = m.primary_plan_id
        WHERE m.member_id = ANY($1::text[])`,
      [[...new Set(memberIds)]],
    );
    for (const row of r.rows) {
      out.set(row.member_id, {
        memberId: row.member_id,
        firstName: row.first_name,
        lastName: row.last_name,
        dateOfBirth: row.dob,
        gender: row.gender,
        payerMemberId: row.payer_member_id,
        payerId: row.payer_id,
        payerName: row.payer_name,
        timeZone: row.time_zone,
        sponsorId: row.sponsor_id,
      });
    }
    return out;
  }
}

function toSummary(r: SummaryRow): MemberSummary {
  return {
    memberId: r.member_id,
    sponsorId: r.sponsor_id,
    timeZone: r.time_zone,
    state: r.state,
    accountStatus: r.account_status,
    lastActiveAt: r.last_active_at,
    appUsageProbability: r.app_usage_probability,
    createdAt: r.created_at,
  };
}

export function createPgMemberDirectory(pool: Pool, opts: PgMemberDirectoryOptions = {}): PgMemberDirectory {
  return new PgMemberDirectory(pool, opts);
}
