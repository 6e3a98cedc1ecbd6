/** Catalogue data of the synthetic population: sponsors, plans, contracts, options, flags (directory/generator.ts). */
import { EVENT_TYPES, PAYERS, STATES, type PayerDef, type StateDef } from './catalog';
import { Rng } from './prng';
import { DAY, type GeneratorOptions, type Row, type Catalog, type SponsorType, type PlanInfo, type SponsorInfo, isoDate, iso, clamp, digits, pad } from './generator-common';

// ---------------------------------------------------------------------------------------------------
// Catalog: sponsors, plans, contracts, options, flags

const PREDICATES = [
  { predicate_id: 'P_ADULT', expression: 'AGE >= 18' },
  { predicate_id: 'P_BH', expression: 'AGE >= 13 AND HAS_MENTAL_HEALTH_COVERAGE = true' },
  { predicate_id: 'P_CCM', expression: 'AGE >= 18 AND CHRONIC_CONDITION_COUNT >= 1' },
  { predicate_id: 'P_STATE_LAUNCH', expression: "STATE IN ('CA', 'NY', 'TX') AND ACCOUNT_STATUS = 'ACTIVE'" },
  { predicate_id: 'P_MEDICARE', expression: "AGE >= 65 OR PLAN_TYPE IN ('MEDICARE', 'MEDICARE_ADVANTAGE', 'DUAL_ELIGIBLE')" },
];

const STATE_PAIRS: readonly (readonly [StateDef, number])[] = STATES.map((s) => [s, s.weight] as const);
export function statePairs(): readonly (readonly [StateDef, number])[] {
  return STATE_PAIRS;
}

function payer(id: string): PayerDef {
  const p = PAYERS.find((x) => x.id === id);
  if (!p) throw new Error(`unknown payer ${id}`);
  return p;
}

/** Most recent first-of-`month` (1-12) at or before ref, as epoch ms. */
function planYearStart(refMs: number, month: number): number {
  const ref = new Date(refMs);
  let y = ref.getUTCFullYear();
  if (Date.UTC(y, month - 1, 1) > refMs) y -= 1;
  return Date.UTC(y, month - 1, 1);
}

export function addYearsMs(ms: number, years: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear() + years, d.getUTCMonth(), d.getUTCDate());
}

interface CatalogState {
  catalog: Catalog;
  sponsors: SponsorInfo[];
  plansById: Map<string, PlanInfo>;
}

export function buildCatalog(opts: GeneratorOptions): CatalogState {
  const rng = new Rng(opts.seed, 1);
  const ref = opts.referenceTime.getTime();
  const nSponsors = clamp(Math.round(opts.population / 2500), 8, 200);
  const fixed: [string, SponsorType, string | null][] = [
    ['ACME_CORP', 'EMPLOYER', 'CA'],
    ['TECH_STARTUP_INC', 'EMPLOYER', 'CA'],
    ['SPONSOR_123', 'EMPLOYER', 'CA'],
    ['MEDICARE_PLAN_01', 'MEDICARE_PLAN', null],
    ['MEDICAID_PLAN_01', 'MEDICAID_PLAN', null],
    ['MARKETPLACE_01', 'MARKETPLACE', null],
  ];
  const specs: [string, SponsorType, string | null][] = [...fixed];
  for (let i = fixed.length + 1; i <= nSponsors; i++) {
    const type = rng.weighted<SponsorType>([
      ['EMPLOYER', 0.75],
      ['MEDICARE_PLAN', 0.12],
      ['MEDICAID_PLAN', 0.08],
      ['MARKETPLACE', 0.05],
    ]);
    specs.push([`SPONSOR_${pad(i, 4)}`, type, null]);
  }

  const catalog: Catalog = {
    payers: PAYERS.map((p) => ({ payer_id: p.id, payer_name: p.name })),
    sponsors: [],
    populations: [],
    insurance_plans: [],
    benefit_predicates: PREDICATES.map((p) => ({ ...p })),
    benefit_contracts: [],
    sponsor_feature_options: [],
    feature_flags: [],
    feature_flag_targets: [],
    event_types: EVENT_TYPES.map((e) => ({ event_type_id: e.id, event_type: e.type, category: e.category, source_service: e.source })),
  };
  const sponsors: SponsorInfo[] = [];
  const plansById = new Map<string, PlanInfo>();
  const typeWeight: Record<SponsorType, number> = { EMPLOYER: 0.7, MEDICARE_PLAN: 0.15, MEDICAID_PLAN: 0.1, MARKETPLACE: 0.05 };
  const countByType = new Map<SponsorType, number>();
  for (const [, t] of specs) countByType.set(t, (countByType.get(t) ?? 0) + 1);

  for (const [id, type, hq] of specs) {
    const hqState = hq ? (STATES.find((s) => s.code === hq) as StateDef) : rng.weighted(statePairs());
    const size = Math.exp(rng.normal(0, 0.6));
    const weight = (typeWeight[type] / (countByType.get(type) ?? 1)) * size;
    const fileBased = rng.chance(0.3);
    const vpcStates = id === 'SPONSOR_123' ? ['CA'] : [hqState.code, ...rng.sample(STATES.map((s) => s.code).filter((c) => c !== hqState.code), 2)];
    const populations = {
      all: `${id}_ALL`,
      vpc: id === 'SPONSOR_123' ? 'CA_VPC' : `${id}_VPC`,
      bh: `${id}_BH`,
    };
    const name = id
      .split('_')
      .map((w) => w.charAt(0) + w.slice(1).toLowerCase())
      .join(' ');
    catalog.sponsors.push({ sponsor_id: id, sponsor_name: name, sponsor_type: type, is_file_based_enrollment: fileBased });
    catalog.populations.push(
      { population_id: populations.all, sponsor_id: id, description: `All members of ${name}` },
      { population_id: populations.vpc, sponsor_id: id, description: `VPC launch states (${vpcStates.join(', ')})` },
      { population_id: populations.bh, sponsor_id: id, description: 'Behavioral health benefit population' },
    );

    const plans: PlanInfo[] = [];
    const addPlan = (p: {
      payer: PayerDef;
      planType: string;
      network: string;
      selfFunded: boolean;
      ded: number;
      rx: boolean;
      employer: boolean;
      metal?: string;
      subsidized?: boolean;
      mental?: boolean;
    }): void => {
      const planId = `${id}_PLAN_${plans.length + 1}`;
      const month = rng.weighted([
        [1, 0.6],
        [7, 0.12],
        [10, 0.08],
        [12, 0.15],
        [4, 0.05],
      ] as const);
      const effective = planYearStart(ref, month);
      const renewal = addYearsMs(effective, 1);
      const hdhp = p.planType === 'HDHP';
      const oop = Math.min(9450, p.ded + rng.int(20, 60) * 100);
      const groupNumber = `GRP${digits(rng, 6)}`;
      const row: Row = {
        plan_id: planId,
        sponsor_id: id,
        payer_id: p.payer.id,
        payer_name: p.payer.name,
        plan_name: `${p.payer.name} ${p.metal ? `${p.metal.charAt(0)}${p.metal.slice(1).toLowerCase()} ` : ''}${p.planType.replace('_', ' ')}`,
        plan_type: p.planType,
        network_type: p.network,
        is_self_funded: p.selfFunded,
        has_hsa: hdhp,
        has_hra: !hdhp && p.employer && rng.chance(0.15),
        has_fsa: p.employer && (hdhp ? rng.chance(0.2) : rng.chance(0.5)),
        has_mental_health_coverage: p.mental ?? rng.chance(0.95),
        has_prescription_coverage: p.rx,
        has_dental_coverage: rng.chance(p.planType === 'MEDICARE' ? 0 : 0.6),
        has_vision_coverage: rng.chance(p.planType === 'MEDICARE' ? 0 : 0.55),
        has_telehealth_coverage: rng.chance(0.85),
        individual_deductible: p.ded,
        family_deductible: p.ded * 2,
        individual_oop_max: oop,
        group_number: groupNumber,
        employer_id: p.employer ? id : null,
        effective_date: isoDate(effective),
        renewal_date: isoDate(renewal),
        is_marketplace_plan: p.metal !== undefined,
        is_subsidized: p.subsidized ?? false,
        metal_tier: p.metal ?? null,
        open_enrollment_start: isoDate(renewal - 60 * DAY),
        open_enrollment_end: isoDate(renewal - 15 * DAY),
      };
      const info: PlanInfo = { planId, payer: p.payer, planType: p.planType, individualDeductible: p.ded, hasPrescription: p.rx, groupNumber, row };
      plans.push(info);
      plansById.set(planId, info);
      catalog.insurance_plans.push(row);
    };

    if (type === 'EMPLOYER') {
      const selfFunded = rng.chance(0.55);
      const regional: [string, number][] =
        hqState.code === 'CA' ? [['94135', 3], ['94036', 2.5]] : hqState.code === 'TX' ? [['84980', 3.5]] : [];
      const commercial = [...regional, ['60054', 2], ['87726', 2.5], ['62308', 1.5], ['00611', 2]] as [string, number][];
      const mainPayer = payer(rng.weighted(commercial));
      const types = ['PPO'];
      if (rng.chance(0.6) || id === 'ACME_CORP') types.push('HMO');
      if (rng.chance(0.55) || id === 'ACME_CORP') types.push('HDHP');
      if (rng.chance(0.25)) types.push('EPO');
      if (rng.chance(0.15)) types.push('POS');
      for (const t of types) {
        // California HMOs are often Kaiser (always for ACME_CORP, which the doc's Example 9 targets).
        const kaiser = t === 'HMO' && hqState.code === 'CA' && (id === 'ACME_CORP' || rng.chance(0.5));
        const p = kaiser ? payer('94135') : mainPayer;
        const network =
          t === 'HMO' || t === 'EPO' ? 'IN_NETWORK_ONLY' : selfFunded && t === 'PPO' && rng.chance(0.15) ? 'REFERENCE_BASED_PRICING' : 'OUT_OF_NETWORK_ALLOWED';
        const ded =
          t === 'HDHP'
            ? rng.int(33, 140) * 50
            : t === 'HMO'
              ? rng.int(0, 4) * 250
              : t === 'PPO'
                ? rng.int(2, 10) * 250
                : rng.int(1, 8) * 250;
        addPlan({ payer: p, planType: t, network, selfFunded, ded, rx: rng.chance(0.97), employer: true });
      }
    } else if (type === 'MEDICARE_PLAN') {
      const maPayers = ['61101', '87726', '60054'];
      addPlan({ payer: payer(rng.pick(maPayers)), planType: 'MEDICARE_ADVANTAGE', network: rng.chance(0.6) ? 'IN_NETWORK_ONLY' : 'OUT_OF_NETWORK_ALLOWED', selfFunded: false, ded: rng.int(0, 2) * 250, rx: true, employer: false });
      addPlan({ payer: payer(rng.pick(maPayers)), planType: 'MEDICARE_ADVANTAGE', network: 'OUT_OF_NETWORK_ALLOWED', selfFunded: false, ded: rng.int(0, 2) * 250, rx: rng.chance(0.5), employer: false });
      addPlan({ payer: payer('CMS'), planType: 'MEDICARE', network: 'OUT_OF_NETWORK_ALLOWED', selfFunded: false, ded: 240, rx: false, employer: false, mental: true });
    } else if (type === 'MEDICAID_PLAN') {
      addPlan({ payer: payer('38333'), planType: 'MEDICAID', network: 'IN_NETWORK_ONLY', selfFunded: false, ded: 0, rx: true, employer: false, mental: true });
      addPlan({ payer: payer(rng.pick(['38333', '61101'])), planType: 'DUAL_ELIGIBLE', network: 'IN_NETWORK_ONLY', selfFunded: false, ded: 0, rx: true, employer: false, mental: true });
    } else {
      const tiers: [string, number, number, boolean][] = [
        ['BRONZE', 120, 150, true],
        ['SILVER', 80, 110, true],
        ['GOLD', 20, 40, false],
        ['PLATINUM', 0, 10, false],
        ['CATASTROPHIC', 189, 189, false],
      ];
      for (const [metal, lo, hi, subsidized] of tiers) {
        addPlan({
          payer: payer(rng.pick(['60054', '87726', '62308', '00611'])),
          planType: rng.pick(['EPO', 'HMO', 'PPO']),
          network: 'IN_NETWORK_ONLY',
          selfFunded: false,
          ded: rng.int(lo, hi) * 50,
          rx: true,
          employer: false,
          metal,
          subsidized: subsidized || rng.chance(0.3),
        });
      }
    }

    // Benefit contracts (the sponsor's healthcare services), relative to the reference time.
    let k = 0;
    const contract = (c: Partial<Row> & { services: string[]; starts: number; ends: number | null }): void => {
      k++;
      catalog.benefit_contracts.push({
        contract_id: `${id}_BC_${k}`,
        sponsor_id: id,
        population_id: c['population_id'] ?? null,
        insurance_plan_id: c['insurance_plan_id'] ?? null,
        healthcare_service_ids: c.services,
        starts_at: iso(c.starts),
        ends_at: c.ends === null ? null : iso(c.ends),
        is_top_benefit: c['is_top_benefit'] ?? false,
        predicate_id: c['predicate_id'] ?? null,
      });
    };
    contract({ services: ['VPC', 'PRIMARY_CARE'], population_id: populations.vpc, starts: ref - 320 * DAY, ends: ref + 45 * DAY, is_top_benefit: true, predicate_id: rng.chance(0.3) ? 'P_STATE_LAUNCH' : 'P_ADULT' });
    contract({ services: ['BH_THERAPY', 'BH_PSYCHIATRY'], population_id: rng.chance(0.5) ? populations.bh : null, starts: ref - 200 * DAY, ends: null, is_top_benefit: rng.chance(0.5), predicate_id: 'P_BH' });
    if (type === 'MEDICARE_PLAN' || rng.chance(0.6)) {
      contract({ services: ['CHRONIC_CARE_MANAGEMENT'], starts: ref - 400 * DAY, ends: ref + 45 * DAY, predicate_id: type === 'MEDICARE_PLAN' ? 'P_MEDICARE' : 'P_CCM' });
    }
    if (rng.chance(0.7)) contract({ services: ['SPECIALIST', 'SPECIALIST_REFERRAL', 'LAB_SERVICES'], starts: ref - 500 * DAY, ends: null });
    const rxPlan = plans.find((p) => p.hasPrescription);
    if (rxPlan && rng.chance(0.5)) contract({ services: ['PHARMACY'], insurance_plan_id: rxPlan.planId, starts: ref - 300 * DAY, ends: null, is_top_benefit: true });
    if (rng.chance(0.3)) contract({ services: ['VPC', 'TELEHEALTH'], starts: ref + 45 * DAY, ends: null });
    if (rng.chance(0.3)) contract({ services: ['EMO'], starts: ref - 500 * DAY, ends: ref - 120 * DAY });

    // Feature options (customer configuration).
    const option = (name: string, valueType: string, value: string): void => {
      catalog.sponsor_feature_options.push({
        sponsor_id: id,
        name,
        value_type: valueType,
        value,
        value_number: /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : null,
        value_json: valueType === 'JSON' ? value : null,
      });
    };
    if (id === 'ACME_CORP') {
      option('chat_available', 'BOOLEAN', 'true');
      option('provider_instructions', 'STRING', 'special_network');
      option('max_visits_per_year', 'NUMBER', '12');
    } else if (id === 'TECH_STARTUP_INC') {
      option('chat_available', 'BOOLEAN', 'false');
      option('provider_instructions', 'STRING', 'special_network');
      option('max_visits_per_year', 'NUMBER', '6');
    } else {
      if (rng.chance(0.9)) option('chat_available', 'BOOLEAN', rng.chance(0.7) ? 'true' : 'false');
      if (rng.chance(0.8)) option('provider_instructions', 'STRING', rng.pick(['standard', 'special_network', 'none']));
      if (rng.chance(0.7)) option('max_visits_per_year', 'NUMBER', rng.pick(['6', '10', '12', '24']));
    }
    if (rng.chance(0.4)) {
      option('network_config', 'JSON', JSON.stringify({ tier: rng.pick(['gold', 'silver']), regions: rng.sample(['west', 'south', 'east', 'midwest'], 2) }));
    }

    sponsors.push({ id, type, weight, hqState, vpcStates, fileBased, plans, populations });
  }

  catalog.feature_flags.push(
    { flag_key: 'directory-warming-enabled', enabled: true, fallthrough_value: true, off_value: false },
    { flag_key: 'vpc-expansion', enabled: true, fallthrough_value: false, off_value: false },
    { flag_key: 'legacy-batch-path', enabled: false, fallthrough_value: true, off_value: false },
  );
  for (const s of sponsors) {
    if (rng.chance(0.2)) catalog.feature_flag_targets.push({ flag_key: 'directory-warming-enabled', context_kind: 'sponsor', context_key: s.id, value: false });
    if (rng.chance(0.3) || s.id === 'SPONSOR_123') catalog.feature_flag_targets.push({ flag_key: 'vpc-expansion', context_kind: 'sponsor', context_key: s.id, value: true });
    if (rng.chance(0.3)) catalog.feature_flag_targets.push({ flag_key: 'legacy-batch-path', context_kind: 'sponsor', context_key: s.id, value: true });
  }
  return { catalog, sponsors, plansById };
}
