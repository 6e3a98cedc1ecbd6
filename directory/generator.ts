/**
 * Deterministic synthetic member population: same (seed, population, referenceTime) → same rows.
 *
 * Members are generated family by family; every family draws from its own PRNG stream (seed mixed with
 * the family index), so the data does not depend on chunk size. Each member gets a latent behaviour
 * profile (hour-of-day and weekday app-usage pattern, engagement trend, appointment and messaging
 * rates); 90 days of lifecycle events are drawn from it, and the observable attributes (last activity,
 * cohorts, used features, upcoming appointments...) are derived from those events. The profile itself
 * goes to member_activity_profile as ground truth for scoring predictions.
 *
 * Two layers sit on top of the archetype's Poisson session process (directory-gen/2), both drawn from a
 * separate PRNG stream so the archetype draws, and every member row derived from them, are unchanged:
 *  - a habitual daily-use segment (HABIT): members managing chronic conditions, on several
 *    prescriptions, or caring for a young child or another dependent, who open the app most days;
 *  - pre-appointment visits (APPOINTMENT_VISIT): most app users open the app in the hours before a
 *    booked visit (check-in, ID card, coverage).
 * The ground truth p_active_next_24h / p_active_next_7d is computed from the same processes that drew
 * the history (weekday, hour-of-day and zone included), so truth and events agree.
 */
import { FEATURES, FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES, PROVIDER_TYPES, type PayerDef, type StateDef } from './catalog';
import { Rng, mixSeed } from './prng';
import { HISTORY_DAYS, DAY, HOUR, type GeneratorOptions, type Catalog, type MemberChunk, type SponsorType, type PlanInfo, type SponsorInfo, isoDate, iso, zoneOffsetMinutes, round4, clamp, digits, pad, memberIdOf } from './generator-common';
import { statePairs, addYearsMs, buildCatalog } from './generator-catalog';
import { type Person, ARCHETYPES, HABIT, APPOINTMENT_VISIT, PEAKS, E, SESSION_EVENT_TYPES, type EventRow } from './behaviour-model';

// Split along its seams (catalogue data, behaviour model, synthesis); the old exports keep their path.
export { DEFAULT_REFERENCE_TIME, GENERATOR_VERSION, HISTORY_DAYS, isoDate, memberIdOf, zoneOffsetMinutes, type Catalog, type GeneratorOptions, type MemberChunk, type Row } from './generator-common';
export { APPOINTMENT_VISIT, HABIT } from './behaviour-model';

export class PopulationGenerator {
  readonly catalog: Catalog;
  private readonly sponsors: SponsorInfo[];
  private readonly plansById: Map<string, PlanInfo>;
  private readonly ref: number;
  private readonly windowStart: number;
  private readonly sponsorWeights: (readonly [SponsorInfo, number])[];
  private readonly employerPlansBySponsor: Map<string, PlanInfo[]>;
  private readonly offsets = new Map<string, Int32Array>();

  constructor(readonly opts: GeneratorOptions) {
    if (!Number.isInteger(opts.population) || opts.population < 0) throw new Error('population must be a non-negative integer');
    const state = buildCatalog(opts);
    this.catalog = state.catalog;
    this.sponsors = state.sponsors;
    this.plansById = state.plansById;
    this.ref = opts.referenceTime.getTime();
    this.windowStart = this.ref - HISTORY_DAYS * DAY;
    this.sponsorWeights = this.sponsors.map((s) => [s, s.weight] as const);
    this.employerPlansBySponsor = new Map(
      this.sponsors.map((sp) => [sp.id, this.sponsors.filter((s) => s.type === 'EMPLOYER' && s.id !== sp.id).flatMap((s) => s.plans)]),
    );
  }

  /** Zone offsets (ms) for each day of the history window. */
  private dayOffsets(timeZone: string): Int32Array {
    let arr = this.offsets.get(timeZone);
    if (!arr) {
      arr = new Int32Array(HISTORY_DAYS);
      for (let d = 0; d < HISTORY_DAYS; d++) arr[d] = zoneOffsetMinutes(timeZone, this.windowStart + d * DAY) * 60000;
      this.offsets.set(timeZone, arr);
    }
    return arr;
  }

  /** Member rows in chunks of about `chunkSize` members (families are never split). */
  *chunks(chunkSize = 5000): Generator<MemberChunk> {
    let nextKey = 1;
    let familyIndex = 0;
    let chunk = emptyChunk();
    while (nextKey <= this.opts.population) {
      const remaining = this.opts.population - nextKey + 1;
      nextKey = this.generateFamily(familyIndex++, nextKey, remaining, chunk);
      if (chunk.members.length >= chunkSize) {
        yield chunk;
        chunk = emptyChunk();
      }
    }
    if (chunk.members.length > 0) yield chunk;
  }

  private pickSponsor(rng: Rng): SponsorInfo {
    return rng.weighted(this.sponsorWeights);
  }

  private familyPeople(rng: Rng, type: SponsorType): Person[] {
    const sex = (): 'M' | 'F' | 'U' => (rng.chance(0.005) ? 'U' : rng.chance(0.5) ? 'F' : 'M');
    if (type === 'MEDICARE_PLAN') {
      // Medicare is individual coverage; ~8% qualify under 65 through disability or ESRD.
      const age = rng.chance(0.08) ? rng.int(50, 64) : Math.min(99, 65 + Math.floor(Math.abs(rng.normal(0, 9))));
      return [{ age, sex: sex(), relationship: null }];
    }
    const subscriberAge =
      type === 'MEDICAID_PLAN' ? rng.int(19, 72) : type === 'MARKETPLACE' ? rng.int(18, 64) : clamp(Math.round(rng.normal(42, 11)), 22, 64);
    const people: Person[] = [{ age: subscriberAge, sex: sex(), relationship: null }];
    const shape = rng.weighted([
      ['single', type === 'EMPLOYER' ? 0.45 : 0.5],
      ['couple', 0.2],
      ['family', type === 'EMPLOYER' ? 0.35 : 0.3],
    ] as const);
    if (shape !== 'single') {
      const rel = rng.chance(0.9) ? 'SPOUSE' : 'DOMESTIC_PARTNER';
      const spouseSex = people[0]?.sex === 'M' ? (rng.chance(0.95) ? 'F' : 'M') : rng.chance(0.95) ? 'M' : 'F';
      people.push({ age: clamp(subscriberAge + rng.int(-6, 6), 18, 99), sex: spouseSex, relationship: rel });
    }
    if (shape === 'family' && subscriberAge >= 20) {
      const maxChildAge = Math.min(25, subscriberAge - 18);
      const n = rng.weighted([
        [1, 0.4],
        [2, 0.4],
        [3, 0.15],
        [4, 0.05],
      ] as const);
      for (let i = 0; i < n; i++) people.push({ age: rng.int(0, maxChildAge), sex: rng.chance(0.5) ? 'F' : 'M', relationship: 'CHILD' });
    }
    if (rng.chance(0.02) && subscriberAge > 40) people.push({ age: rng.int(60, 90), sex: sex(), relationship: 'OTHER_DEPENDENT' });
    return people;
  }

  private generateFamily(familyIndex: number, firstKey: number, remaining: number, out: MemberChunk): number {
    const rng = new Rng(mixSeed(this.opts.seed, familyIndex), 2);
    const sponsor = this.pickSponsor(rng);
    const people = this.familyPeople(rng, sponsor.type);
    // Which covered people have an account here (the subscriber always does).
    const enrolled = people.filter((p, i) => i === 0 || rng.chance(p.age >= 13 ? 0.65 : 0.4)).slice(0, remaining);
    const familyId = `f_${pad(firstKey, 7)}`;
    const subscriberKey = firstKey;
    const stateDef = rng.chance(0.5) ? sponsor.hqState : rng.weighted(statePairs());
    const [city, zipPrefix] = rng.pick(stateDef.cities);
    const zip = `${zipPrefix}${digits(rng, 5 - zipPrefix.length)}`;
    const lastName = rng.pick(LAST_NAMES);
    const spanish = rng.chance(stateDef.spanishShare);
    const spoken = spanish ? 'es' : rng.weighted([['en', 0.93], ['zh', 0.03], ['vi', 0.02], ['ko', 0.01], ['fr', 0.01]] as const);

    // Plan choice: plan type correlates with age (Medicare members on MA/Medicare, dual eligibles 65+).
    let plan = rng.pick(sponsor.plans);
    if (sponsor.type === 'MEDICAID_PLAN') {
      const dual = sponsor.plans.find((p) => p.planType === 'DUAL_ELIGIBLE');
      const medicaid = sponsor.plans.find((p) => p.planType === 'MEDICAID');
      plan = (people[0]!.age >= 65 && dual) || !medicaid ? (dual ?? plan) : medicaid;
    } else if (sponsor.type === 'MEDICARE_PLAN') {
      plan = rng.weighted(sponsor.plans.map((p) => [p, p.planType === 'MEDICARE' ? 0.25 : 0.75] as const));
    }
    const policyNumber = `POL${digits(rng, 8)}`;
    const basePayerMemberId = payerMemberId(rng, plan.payer);

    const coveredSize = people.length;
    out.families.push({ family_id: familyId, subscriber_member_id: memberIdOf(subscriberKey), family_size: coveredSize });

    // Secondary coverage through another employer's plan (coordination of benefits).
    const employerPlans = this.employerPlansBySponsor.get(sponsor.id) ?? [];
    const familyHasSecondary = sponsor.type === 'EMPLOYER' && people.length > 1 && rng.chance(0.3) && employerPlans.length > 0;
    const secondaryPlan = familyHasSecondary ? rng.pick(employerPlans) : null;
    const medicareSecondary = sponsor.type === 'MEDICARE_PLAN' && rng.chance(0.12) && employerPlans.length > 0 ? rng.pick(employerPlans) : null;

    let key = firstKey;
    for (let i = 0; i < enrolled.length; i++) {
      const person = enrolled[i]!;
      const memberKey = key++;
      const mrng = new Rng(mixSeed(this.opts.seed, familyIndex), 100 + i);
      // Draws for the habit and appointment layers come from their own stream, so every draw the original
      // profile makes from `mrng` (and every member row derived from them) stays the same.
      const hrng = new Rng(mixSeed(this.opts.seed, familyIndex), 500 + i);
      this.generateMember(mrng, hrng, {
        memberKey,
        person,
        caregiver: person.relationship !== 'CHILD' && person.age >= 18 && people.some((p) => p.relationship === 'OTHER_DEPENDENT' || (p.relationship === 'CHILD' && p.age < 13)),
        isSubscriber: i === 0,
        sponsor,
        familyId,
        subscriberKey,
        stateDef,
        city,
        zip,
        lastName,
        spoken,
        plan,
        policyNumber,
        payerMemberId: i === 0 ? basePayerMemberId : `${basePayerMemberId}${pad(people.indexOf(person), 2)}`,
        secondaryPlan: sponsor.type === 'EMPLOYER' ? secondaryPlan : medicareSecondary,
        out,
      });
    }
    return key;
  }

  private generateMember(
    rng: Rng,
    hrng: Rng,
    m: {
      memberKey: number;
      person: Person;
      /** An adult in a family with a young child or another dependent (cares for someone's health). */
      caregiver: boolean;
      isSubscriber: boolean;
      sponsor: SponsorInfo;
      familyId: string;
      subscriberKey: number;
      stateDef: StateDef;
      city: string;
      zip: string;
      lastName: string;
      spoken: string;
      plan: PlanInfo;
      policyNumber: string;
      payerMemberId: string;
      secondaryPlan: PlanInfo | null;
      out: MemberChunk;
    },
  ): void {
    const ref = this.ref;
    const { person, sponsor, plan, out, memberKey } = m;
    const age = person.age;
    // Born between exactly `age` years + 1 day and `age` + 1 years before the reference day.
    const refDay = Math.floor(ref / DAY) * DAY;
    const dobMs = addYearsMs(refDay, -age) - rng.int(1, 364) * DAY;
    const tz = m.stateDef.timeZone;

    // Enrollment date: ~5% joined within the last 30 days.
    const tenureDays = rng.chance(0.05) ? rng.int(0, 29) : rng.int(30, Math.max(31, Math.min(2500, age * 365)));
    const createdAt = ref - tenureDays * DAY - rng.int(0, 86_399) * 1000;
    const isNew = tenureDays < 30;

    const accountStatus = isNew
      ? rng.weighted([['ACTIVE', 0.7], ['PENDING_ACTIVATION', 0.3]] as const)
      : rng.weighted([['ACTIVE', 0.88], ['INACTIVE', 0.05], ['SUSPENDED', 0.015], ['PENDING_ACTIVATION', 0.02], ['DEPRECATED', 0.035]] as const);
    const isMock = rng.chance(0.005);
    const sexName = person.sex === 'F' ? 'FEMALE' : person.sex === 'M' ? 'MALE' : rng.chance(0.3) ? 'INTERSEX' : 'UNKNOWN';
    const firstName = isMock ? 'Test' : person.sex === 'F' ? rng.pick(FIRST_NAMES_F) : rng.pick(FIRST_NAMES_M);
    const genderIdentity =
      rng.chance(0.03) ? rng.pick(['NON_BINARY', 'TRANSGENDER_MAN', 'TRANSGENDER_WOMAN']) : rng.chance(0.05) ? 'DECLINED' : person.sex === 'F' ? 'WOMAN' : person.sex === 'M' ? 'MAN' : 'DECLINED';
    const written = rng.chance(0.9) ? m.spoken : 'en';
    const race = rng.weighted([['WHITE', 0.58], ['HISPANIC_OR_LATINO', m.spoken === 'es' ? 3 : 0.18], ['BLACK_OR_AFRICAN_AMERICAN', 0.12], ['ASIAN', m.spoken === 'zh' || m.spoken === 'vi' || m.spoken === 'ko' ? 3 : 0.06], ['AMERICAN_INDIAN_OR_ALASKA_NATIVE', 0.01], ['NATIVE_HAWAIIAN_OR_PACIFIC_ISLANDER', 0.005], ['MULTIRACIAL', 0.03], ['DECLINED', 0.03]] as const);

    // Coverage.
    const coverageStatus =
      accountStatus === 'ACTIVE'
        ? rng.weighted([['ACTIVE', 0.95], ['PENDING', 0.03], ['SUSPENDED', 0.02]] as const)
        : accountStatus === 'PENDING_ACTIVATION'
          ? 'PENDING'
          : accountStatus === 'SUSPENDED'
            ? 'SUSPENDED'
            : 'INACTIVE';
    const covStart = Math.min(createdAt, Date.parse(String(plan.row['effective_date'])));
    const covStartDate = isoDate(covStart);
    let covEnd: string | null = null;
    if (coverageStatus === 'INACTIVE') covEnd = isoDate(ref - rng.int(5, 200) * DAY);
    else if (rng.chance(0.04)) covEnd = isoDate(ref + rng.int(1, 120) * DAY); // terminating soon (job change, aging out)
    if (covEnd !== null && covEnd <= covStartDate) covEnd = isoDate(covStart + DAY);
    out.coverages.push({
      coverage_id: `c_${memberKey}_1`,
      member_key: memberKey,
      plan_id: plan.planId,
      payer_id: plan.payer.id,
      payer_name: plan.payer.name,
      coverage_type: 'PRIMARY',
      status: coverageStatus,
      starts_on: covStartDate,
      ends_on: covEnd,
      policy_number: m.policyNumber,
      is_file_based_enrollment: sponsor.fileBased,
    });
    let dual = false;
    if (m.secondaryPlan && (m.person.relationship === 'CHILD' || rng.chance(0.6))) {
      dual = true;
      out.coverages.push({
        coverage_id: `c_${memberKey}_2`,
        member_key: memberKey,
        plan_id: m.secondaryPlan.planId,
        payer_id: m.secondaryPlan.payer.id,
        payer_name: m.secondaryPlan.payer.name,
        coverage_type: 'SECONDARY',
        status: rng.chance(0.92) ? 'ACTIVE' : 'INACTIVE',
        starts_on: isoDate(ref - rng.int(60, 900) * DAY),
        ends_on: null,
        policy_number: `POL${digits(rng, 8)}`,
        is_file_based_enrollment: rng.chance(0.3),
      });
    }
    // A dependent who also holds their own policy elsewhere is both subscriber and beneficiary.
    const role = dual && m.person.relationship !== 'CHILD' ? 'BOTH' : m.isSubscriber ? 'SUBSCRIBER' : 'BENEFICIARY';

    // Clinical state.
    const conditions: string[] = [];
    const cond = (name: string, p: number): void => {
      if (rng.chance(p)) conditions.push(name);
    };
    cond('DIABETES', age > 45 ? 0.18 : age > 18 ? 0.05 : 0.005);
    cond('HYPERTENSION', age > 50 ? 0.35 : age > 18 ? 0.08 : 0.005);
    cond('ASTHMA', 0.08);
    cond('COPD', age > 55 ? 0.08 : 0.005);
    cond('HEART_DISEASE', age > 60 ? 0.12 : age > 40 ? 0.02 : 0.002);
    cond('DEPRESSION', age > 12 ? 0.1 : 0.01);
    cond('OBESITY', age > 18 ? 0.15 : 0.05);
    const rxCount = rng.poisson(conditions.length * 1.4 + (age > 60 ? 0.8 : 0.2));

    // Latent behaviour profile.
    const archetype = isNew ? 'new' : rng.weighted(ARCHETYPES.map(([a, w]) => [a, age > 75 ? (a === 'dormant' || a === 'rare' ? w * 2 : w) : w] as const));
    const archetypeRate = archetype === 'new' ? 0.25 : (ARCHETYPES.find((a) => a[0] === archetype)?.[2] ?? 0);
    const baseRate = archetypeRate * Math.exp(rng.normal(0, 0.3));
    const trendKind = rng.weighted([['flat', 0.78], ['declining', 0.12], ['growing', 0.1]] as const);
    const trend = trendKind === 'declining' ? rng.range(0.35, 0.7) : trendKind === 'growing' ? rng.range(1.5, 2.4) : Math.exp(rng.normal(0, 0.12));
    const [, peakHour] = rng.weighted(PEAKS.map((p) => [p, p[2]] as const));
    const hourWeights = Array.from({ length: 24 }, (_, h) => {
      const d = Math.min(Math.abs(h - peakHour), 24 - Math.abs(h - peakHour));
      return round4(0.02 + Math.exp(-(d * d) / 4.5) + (h >= 8 && h <= 21 ? 0.08 : 0));
    });
    const weekdayShape = rng.weighted([['workweek', 0.55], ['weekend', 0.15], ['flat', 0.3]] as const);
    const weekdayWeights = [0, 1, 2, 3, 4, 5, 6].map((d) => {
      const weekend = d === 0 || d === 6;
      return weekdayShape === 'workweek' ? (weekend ? 0.5 : 1.2) : weekdayShape === 'weekend' ? (weekend ? 1.8 : 0.68) : 1;
    });
    const apptRate = clamp(0.15 + conditions.length * 0.25 + (age > 65 ? 0.3 : 0) + rng.range(-0.1, 0.3), 0.05, 2.5); // per 30 days
    const messagePropensity = round4(rng.next() * (archetype === 'power' ? 1 : 0.5));
    const pushEnabled = rng.chance(age > 70 ? 0.35 : 0.62);
    const emailEnabled = rng.chance(0.8);
    const habitChance =
      archetype === 'dormant'
        ? 0
        : HABIT.base +
          (conditions.length >= 2 ? HABIT.twoPlusConditions : conditions.length === 1 ? HABIT.oneCondition : 0) +
          (rxCount >= 3 ? HABIT.threePlusPrescriptions : 0) +
          (m.caregiver ? HABIT.caregiver : 0);
    const habitual = hrng.chance(habitChance);
    const habitHazard = habitual ? -Math.log(1 - hrng.range(HABIT.dailyMin, HABIT.dailyMax)) : 0; // per average day
    const visitP = habitual ? APPOINTMENT_VISIT.habitual : (APPOINTMENT_VISIT.byArchetype[archetype] ?? 0.5);

    // Lifecycle events over the history window.
    const events: EventRow[] = [];
    const lo = Math.max(this.windowStart, createdAt);
    const rateAt = (t: number): number => baseRate * Math.pow(trend, (t - (ref - 45 * DAY)) / (30 * DAY));
    const hourTotal = hourWeights.reduce((a, b) => a + b, 0);
    const weekdayMean = weekdayWeights.reduce((a, b) => a + b, 0) / 7;
    const features = new Set<string>();
    const offsets = this.dayOffsets(tz);
    /** One app session's events from `t`; every caller makes the same draws from `r` in the same order. */
    const session = (r: Rng, t: number): void => {
      events.push({ t, type: r.chance(0.55) ? E.SIGNIN : E.SESSION_REFRESH, feature: null });
      events.push({ t: t + 1000, type: E.APP_SESSION_STARTED, feature: null });
      let u = t + 5000;
      if (r.chance(0.3)) events.push({ t: (u += 20_000), type: E.HOMEPAGE_VIEWED, feature: null });
      if (r.chance(0.25)) {
        const f = r.chance(0.3) && plan.individualDeductible >= 2000 ? 'cost_estimator' : r.pick(FEATURES);
        features.add(f);
        events.push({ t: (u += 40_000), type: E.FEATURE_USED, feature: f });
      }
      if (r.chance(messagePropensity * 0.25)) events.push({ t: (u += 60_000), type: E.MESSAGE_SENT, feature: null });
      if (r.chance(0.08)) events.push({ t: (u += 30_000), type: E.PROVIDER_SEARCHED, feature: null });
      if (r.chance(0.04)) events.push({ t: (u += 30_000), type: E.SEARCH_PERFORMED, feature: null });
      if (r.chance(0.04)) events.push({ t: (u += 10_000), type: E.RECOMMENDATION_SHOWN, feature: null });
      if (r.chance(0.05)) events.push({ t: (u += 300_000), type: E.SIGNOUT, feature: null });
    };
    /** A session start on history day `d` at one of the member's usual local hours. */
    const sessionTime = (r: Rng, d: number): number => {
      let x = r.next() * hourTotal;
      let hour = 0;
      while (hour < 23 && x >= (hourWeights[hour] ?? 0)) x -= hourWeights[hour++] ?? 0;
      return this.windowStart + d * DAY + hour * HOUR + r.int(0, 3599) * 1000 - (offsets[d] ?? 0);
    };
    for (let d = 0; d < HISTORY_DAYS && baseRate > 0; d++) {
      const dayStart = this.windowStart + d * DAY;
      if (dayStart + DAY <= lo) continue;
      const dow = new Date(dayStart).getUTCDay();
      const n = Math.min(6, rng.poisson((rateAt(dayStart + DAY / 2) * (weekdayWeights[dow] ?? 1)) / weekdayMean));
      for (let s = 0; s < n; s++) {
        const t = sessionTime(rng, d);
        if (t < lo || t >= ref) continue;
        session(rng, t);
      }
    }
    const baseSessions = events.length > 0; // decides a draw below exactly as in directory-gen/1
    // Habit layer: active on a day with P = 1 - exp(-hazard x weekday weight), one or two sessions.
    const habitDayP = (dow: number): number => 1 - Math.exp((-habitHazard * (weekdayWeights[dow] ?? 1)) / weekdayMean);
    for (let d = 0; d < HISTORY_DAYS && habitual; d++) {
      const dayStart = this.windowStart + d * DAY;
      if (dayStart + DAY <= lo) continue;
      if (!hrng.chance(habitDayP(new Date(dayStart).getUTCDay()))) continue;
      const n = hrng.chance(HABIT.secondSession) ? 2 : 1;
      for (let s = 0; s < n; s++) {
        const t = sessionTime(hrng, d);
        if (t < lo || t >= ref) continue;
        session(hrng, t);
      }
    }
    const at = (): number => lo + rng.next() * Math.max(1, ref - lo);
    const push = (t: number, type: number, feature: string | null = null): void => {
      if (t >= lo && t < ref) events.push({ t: Math.floor(t), type, feature });
    };
    if (createdAt >= this.windowStart) {
      push(createdAt, E.ACCOUNT_CREATED);
      push(createdAt + 60_000, E.ENROLLMENT_COMPLETED);
      push(createdAt + rng.int(1, 48) * HOUR, E.COVERAGE_CHANGED);
    } else if (rng.chance(0.03)) push(at(), E.COVERAGE_CHANGED);
    for (let i = rng.poisson(0.15); i > 0; i--) push(at(), E.ACCOUNT_UPDATED);

    // Appointments: booked, then completed or cancelled; some are still upcoming at the reference time.
    let nextAppointment: number | null = null;
    let lastCompletedAppointment: number | null = null;
    const keptAppointments: number[] = [];
    const nAppts = rng.poisson((apptRate * (ref - lo)) / (30 * DAY));
    for (let i = 0; i < nAppts; i++) {
      const booked = at();
      const when = booked + rng.range(1, 21) * DAY;
      push(booked, E.APPOINTMENT_BOOKED);
      if (rng.chance(0.15)) {
        push(booked + rng.next() * (when - booked), E.APPOINTMENT_CANCELLED);
      } else if (when < ref) {
        keptAppointments.push(when);
        push(when, E.APPOINTMENT_COMPLETED);
        lastCompletedAppointment = Math.max(lastCompletedAppointment ?? 0, Math.floor(when));
      } else {
        keptAppointments.push(when);
        if (nextAppointment === null || when < nextAppointment) nextAppointment = Math.floor(when);
      }
    }
    // Pre-appointment visits (past ones are history; upcoming ones not yet made feed the ground truth).
    const pendingVisits: number[] = [];
    const visitSpan = APPOINTMENT_VISIT.earliestBeforeMs - APPOINTMENT_VISIT.latestBeforeMs;
    for (const when of keptAppointments) {
      const visits = hrng.chance(visitP);
      const t = Math.floor(when - APPOINTMENT_VISIT.latestBeforeMs - hrng.next() * visitSpan);
      if (visits && t >= lo && t < ref) session(hrng, t);
      if (when >= ref && !(visits && t < ref)) pendingVisits.push(when);
    }

    for (let i = rng.poisson(messagePropensity * 2); i > 0; i--) push(at(), E.MESSAGE_RECEIVED);
    const pushes = pushEnabled ? rng.poisson(1.5) : 0;
    for (let i = 0; i < pushes; i++) {
      const t = at();
      push(t, E.PUSH_SENT);
      if (rng.chance(baseRate > 0.1 ? 0.5 : 0.15)) push(t + rng.int(1, 600) * 60_000, E.NOTIFICATION_OPENED);
    }
    if (emailEnabled) for (let i = rng.poisson(1); i > 0; i--) push(at(), E.EMAIL_SENT);
    for (let i = rng.poisson(0.2); i > 0; i--) push(at(), E.PAYMENT_COMPLETED);

    // Care programs, gaps, clinical activity.
    const programs: string[] = [];
    if (conditions.length > 0 && rng.chance(0.35)) programs.push('CHRONIC_CARE_MANAGEMENT');
    if (conditions.includes('DEPRESSION') ? rng.chance(0.4) : rng.chance(0.03)) programs.push('BEHAVIORAL_HEALTH');
    if (person.sex === 'F' && age >= 20 && age <= 42 && rng.chance(0.05)) programs.push('MATERNITY');
    if (age >= 25 && rng.chance(0.05)) programs.push('MUSCULOSKELETAL');
    if (rxCount >= 3 && rng.chance(0.25)) programs.push('PHARMACY_SUPPORT');
    for (let i = 0; i < programs.length; i++) if (rng.chance(0.15)) push(at(), E.PROGRAM_ENROLLED);
    const deliveries: string[] = [];
    if (programs.length > 0) {
      if (rng.chance(0.6)) deliveries.push(programs.includes('BEHAVIORAL_HEALTH') ? 'THERAPY_SESSION' : 'HEALTH_COACHING');
      if (rng.chance(0.3)) deliveries.push('LABS');
    }
    if (rng.chance(0.05)) deliveries.push(rng.pick(['EMO', 'VPC_VISIT']));
    const activeDeliveries = [...new Set(deliveries)].sort();
    for (let i = activeDeliveries.length > 0 ? rng.poisson(1.5) : 0; i > 0; i--) push(at(), E.SERVICE_DELIVERY_COMPLETED);
    const gaps: string[] = [];
    const gap = (g: string, p: number): void => {
      if (rng.chance(p)) gaps.push(g);
    };
    gap('HEDIS_COLORECTAL_SCREENING', age >= 45 && age <= 75 ? 0.3 : 0);
    gap('A1C_MANAGEMENT', conditions.includes('DIABETES') ? 0.5 : 0);
    gap('PHQ9_FOLLOWUP', conditions.includes('DEPRESSION') || programs.includes('BEHAVIORAL_HEALTH') ? 0.4 : 0.01);
    gap('MEDICATION_ADHERENCE', rxCount > 0 ? 0.12 : 0);
    gap('POST_VISIT_FOLLOWUP', lastCompletedAppointment !== null && lastCompletedAppointment > ref - 30 * DAY ? 0.35 : 0);
    gap('LAB_ORDER_PENDING', conditions.length > 0 ? 0.1 : 0.02);
    gap('BREAST_CANCER_SCREENING', person.sex === 'F' && age >= 50 && age <= 74 ? 0.25 : 0);
    for (let i = 0; i < gaps.length; i++) if (rng.chance(0.3)) push(at(), E.CARE_GAP_OPENED);
    for (let i = rng.poisson(0.2); i > 0; i--) push(at(), E.CARE_GAP_CLOSED);
    for (let i = rng.poisson(0.3 + 0.3 * conditions.length); i > 0; i--) push(at(), E.LAB_RESULT_RECEIVED);
    for (let i = Math.min(10, rng.poisson(rxCount * 2.5)); i > 0; i--) push(at(), E.PRESCRIPTION_FILLED);
    const claims = rng.poisson(0.5 + 0.6 * conditions.length + nAppts * 0.5);
    for (let i = 0; i < claims; i++) push(at(), E.CLAIM_PROCESSED);

    // Eligibility checks: RTE-enabled members are mostly those not on file-based enrollment.
    const rteEnabled = sponsor.fileBased ? rng.chance(0.1) : rng.chance(0.95);
    const problematic = rng.chance(0.05);
    if (rteEnabled) {
      for (let i = rng.poisson(0.9); i > 0; i--) push(at(), rng.chance(problematic ? 0.5 : 0.06) ? E.ELIGIBILITY_CHECK_FAILED : E.ELIGIBILITY_CHECKED);
    }

    events.sort((a, b) => a.t - b.t || a.type - b.type);
    if (events.length > 600) events.splice(0, events.length - 600); // retention keeps the most recent events

    // Observable attributes derived from events.
    let lastActive: number | null = null;
    let lastLogin: number | null = null;
    let lastEligibility: number | null = null;
    let lastClaim: number | null = null;
    let sent = 0;
    let recentReceived = 0;
    let last30 = 0;
    let prior60 = 0;
    const activeWeeks = new Set<number>();
    for (const e of events) {
      if (SESSION_EVENT_TYPES.has(e.type)) lastActive = e.t;
      if (e.type === E.SIGNIN) lastLogin = e.t;
      if (e.type === E.ELIGIBILITY_CHECKED || e.type === E.ELIGIBILITY_CHECK_FAILED) lastEligibility = e.t;
      if (e.type === E.CLAIM_PROCESSED) lastClaim = e.t;
      if (e.type === E.MESSAGE_SENT) sent++;
      if (e.type === E.MESSAGE_RECEIVED && e.t >= ref - 14 * DAY) recentReceived++;
      if (e.type === E.APP_SESSION_STARTED) {
        if (e.t >= ref - 30 * DAY) last30++;
        else prior60++;
        activeWeeks.add(Math.floor((ref - e.t) / (7 * DAY)));
      }
    }
    if (!baseSessions && !isNew) {
      // Activity before the retained event history (or never).
      let before = rng.chance(archetype === 'dormant' ? 0.6 : 0.9) ? ref - rng.int(archetype === 'dormant' ? 181 : 91, 700) * DAY - rng.int(0, 86_399) * 1000 : null;
      if (before !== null && before < createdAt) before = null;
      if (lastActive === null) lastActive = before;
    }
    if (lastLogin === null && lastActive !== null && lastActive < this.windowStart) lastLogin = lastActive;
    if (lastEligibility === null && rng.chance(rteEnabled ? 0.5 : 0.15)) {
      const t = ref - rng.int(91, 365) * DAY;
      lastEligibility = t > createdAt ? t : null;
    }
    if (lastClaim === null && rng.chance(0.5)) {
      const t = ref - rng.int(91, 500) * DAY;
      lastClaim = t > createdAt ? t : null;
    }
    if (rng.chance(0.6)) {
      for (const f of rng.sample(FEATURES, rng.int(0, 3))) if (lastActive !== null) features.add(f);
    }
    const activityCohort = isNew
      ? 'NEW_MEMBER'
      : lastActive === null || lastActive < ref - 180 * DAY
        ? 'DORMANT'
        : prior60 >= 4 && last30 * 4 < prior60
          ? 'AT_RISK_CHURN'
          : activeWeeks.size >= 6
            ? 'HIGHLY_ENGAGED'
            : last30 > 0
              ? 'REGULARLY_ENGAGED'
              : 'OCCASIONALLY_ENGAGED';
    const cohorts = [activityCohort];
    if (plan.individualDeductible >= 2000 && (features.has('cost_estimator') || features.has('benefits_lookup'))) cohorts.push('COST_CONSCIOUS');
    if (!isNew && last30 >= 3 && prior60 <= 1) cohorts.push('NEWLY_ENGAGED');
    const onboarding = isNew ? rng.chance(0.35) : rng.chance(0.93);
    /**
     * Ground truth from the processes that drew the history: the archetype's Poisson sessions (expected
     * count in [from, to) from the day rate, weekday weight and the share of the member's hour weights that
     * falls in the interval, in the member's zone), the habit layer's active days, and the pending
     * pre-appointment visits (conditioned on not having happened before the reference time).
     */
    const activeIn = (from: number, to: number): { poissonMass: number; pNoLayer: number } => {
      let poissonMass = 0;
      let pNoLayer = 1;
      const firstDay = Math.floor((from - this.windowStart) / DAY) - 1;
      const lastDay = Math.ceil((to - this.windowStart) / DAY) + 1;
      for (let d = firstDay; d <= lastDay; d++) {
        const dayStart = this.windowStart + d * DAY;
        if (dayStart + DAY <= lo) continue;
        const offset = d >= 0 && d < HISTORY_DAYS ? (offsets[d] ?? 0) : zoneOffsetMinutes(tz, dayStart) * 60000;
        let f = 0;
        for (let h = 0; h < 24; h++) {
          const s = dayStart + h * HOUR - offset;
          const overlap = Math.min(to, s + HOUR) - Math.max(from, s);
          if (overlap > 0) f += ((hourWeights[h] ?? 0) / hourTotal) * (overlap / HOUR);
        }
        if (f === 0) continue;
        const dow = new Date(dayStart).getUTCDay();
        poissonMass += (rateAt(dayStart + DAY / 2) * (weekdayWeights[dow] ?? 1) * f) / weekdayMean;
        if (habitual) {
          const q = habitDayP(dow);
          pNoLayer *= 1 - q + q * (1 - f) * (1 - HABIT.secondSession * f);
        }
      }
      for (const when of pendingVisits) {
        const wLo = when - APPOINTMENT_VISIT.earliestBeforeMs;
        const wHi = when - APPOINTMENT_VISIT.latestBeforeMs;
        const before = clamp((Math.min(wHi, ref) - wLo) / visitSpan, 0, 1);
        const inside = clamp((Math.min(wHi, to) - Math.max(wLo, from)) / visitSpan, 0, 1);
        pNoLayer *= 1 - (visitP * inside) / (1 - visitP * before);
      }
      return { poissonMass: baseRate > 0 ? poissonMass : 0, pNoLayer };
    };
    const next24 = activeIn(ref, ref + DAY);
    const next7 = activeIn(ref, ref + 7 * DAY);
    const p24 = 1 - Math.exp(-next24.poissonMass) * next24.pNoLayer;
    const p7 = 1 - Math.exp(-next7.poissonMass) * next7.pNoLayer;
    // directory-gen/2 filled members.app_usage_probability from this latent truth (7-day figure plus noise); the
    // predictor is now the single source (member_predictions, issue 9) and the column stays NULL. The noise draw
    // stays so every later column keeps its PRNG stream.
    rng.normal(0, 0.08);
    const highUtilizer = claims >= 5 || (conditions.length >= 3 && nAppts >= 3);

    out.members.push({
      member_id: memberIdOf(memberKey),
      member_key: memberKey,
      sponsor_id: sponsor.id,
      population_ids: [sponsor.populations.all, ...(sponsor.vpcStates.includes(m.stateDef.code) ? [sponsor.populations.vpc] : []), ...(rng.chance(0.5) ? [sponsor.populations.bh] : [])],
      account_status: accountStatus,
      is_mock: isMock,
      first_name: firstName,
      last_name: isMock ? 'Mockaccount' : m.lastName,
      date_of_birth: isoDate(dobMs),
      gender: person.sex,
      biological_sex: sexName,
      gender_identity: genderIdentity,
      state: m.stateDef.code,
      city: m.city,
      zip_code: m.zip,
      time_zone: tz,
      preferred_spoken_language: m.spoken,
      preferred_written_language: written,
      race_ethnicity: race,
      is_vip: rng.chance(0.01),
      is_do_not_contact: rng.chance(0.03),
      is_lgbtq_plus: rng.chance(0.07),
      payer_member_id: m.payerMemberId,
      primary_plan_id: plan.planId,
      rte_enabled: rteEnabled,
      last_eligibility_check_at: lastEligibility === null ? null : iso(lastEligibility),
      family_id: m.familyId,
      member_role: role,
      relationship: person.relationship,
      subscriber_member_id: m.isSubscriber ? null : memberIdOf(m.subscriberKey),
      created_at: iso(createdAt),
      last_active_at: lastActive === null ? null : iso(lastActive),
      app_usage_probability: null,
    });
    out.member_engagement.push({
      member_key: memberKey,
      cohorts,
      last_login_at: lastLogin === null ? null : iso(lastLogin),
      onboarding_completed: onboarding,
      used_features: [...features].sort(),
      next_appointment_at: nextAppointment === null ? null : iso(nextAppointment),
      unread_message_count: recentReceived > 0 && rng.chance(0.5) ? rng.int(1, recentReceived) : rng.chance(0.03) ? 1 : 0,
      sent_message_count: sent + rng.poisson(messagePropensity * 5),
      push_notifications_enabled: pushEnabled,
      email_notifications_enabled: emailEnabled,
    });
    out.member_care.push({
      member_key: memberKey,
      enrolled_programs: programs,
      active_service_delivery_types: activeDeliveries,
      open_care_gap_types: gaps,
      active_prescription_count: rxCount,
      chronic_conditions: conditions,
      last_claim_at: lastClaim === null ? null : iso(lastClaim),
      is_high_utilizer: highUtilizer,
    });

    const devices: string[] = [];
    if (rng.chance(age < 65 ? 0.25 : 0.1)) devices.push(rng.pick(['apple_watch', 'fitbit']));
    if (conditions.includes('DIABETES') && rng.chance(0.3)) devices.push('continuous_glucose_monitor');
    if (conditions.includes('HYPERTENSION') && rng.chance(0.15)) devices.push('blood_pressure_cuff');
    if (rng.chance(0.03)) devices.push('smart_scale');
    const wearable = devices.some((d) => d === 'apple_watch' || d === 'fitbit');
    const medicaid = plan.planType === 'MEDICAID' || plan.planType === 'DUAL_ELIGIBLE';
    const riskRaw = -3 + age / 25 + conditions.length * 0.7 + (highUtilizer ? 0.8 : 0) + rng.normal(0, 0.4);
    const erVisits = rng.poisson(0.15 + 0.3 * conditions.length);
    const providerTypes = rng.sample(PROVIDER_TYPES, lastCompletedAppointment !== null ? rng.int(1, 3) : rng.int(0, 1));
    out.member_health.push({
      member_key: memberKey,
      health_risk_score: round4(1 / (1 + Math.exp(-riskRaw))),
      churn_risk_score: round4(clamp((trend < 0.8 ? 0.5 : 0.15) + (activityCohort === 'DORMANT' ? 0.3 : 0) + rng.normal(0, 0.08), 0, 1)),
      annual_er_visits: erVisits,
      predicted_annual_cost: Math.round(1500 + 4200 * conditions.length + age * 45 + erVisits * 2500 + rng.range(0, 2000)),
      wearable_device_types: [...new Set(devices)].sort(),
      last_biometric_data_at: devices.length > 0 && rng.chance(0.8) ? iso(ref - rng.int(0, 20 * 24) * HOUR) : null,
      has_step_data: wearable,
      has_heart_rate_data: wearable && rng.chance(0.85),
      has_sleep_data: wearable && rng.chance(0.6),
      has_transportation_barrier: rng.chance(medicaid ? 0.18 : 0.05),
      has_food_insecurity: rng.chance(medicaid ? 0.25 : 0.06),
      has_housing_instability: rng.chance(medicaid ? 0.12 : 0.03),
      requires_digital_assistance: rng.chance(age >= 75 ? 0.4 : 0.04),
      sdoh_screening_completed: rng.chance(medicaid ? 0.6 : 0.25),
      pcp_attributed: rng.chance(plan.planType === 'HMO' || plan.planType === 'MEDICARE_ADVANTAGE' ? 0.95 : 0.5),
      provider_network_id: `NET_${plan.payer.id}_${plan.planType}`,
      last_provider_seen_at: lastCompletedAppointment !== null ? iso(lastCompletedAppointment) : rng.chance(0.6) ? iso(ref - rng.int(91, 700) * DAY) : null,
      provider_types_seen: providerTypes,
    });
    const lifeEvent = (type: string, p: number, maxDaysAgo = 730): void => {
      if (rng.chance(p)) out.member_life_events.push({ member_key: memberKey, life_event_type: type, occurred_at: iso(ref - rng.int(1, maxDaysAgo) * DAY) });
    };
    lifeEvent('MARRIAGE', age >= 22 && age <= 45 ? 0.05 : 0.005);
    lifeEvent('BIRTH', person.sex === 'F' && age >= 20 && age <= 42 ? 0.06 : age >= 20 && age <= 45 ? 0.03 : 0);
    lifeEvent('JOB_CHANGE', age >= 20 && age <= 64 ? 0.08 : 0);
    lifeEvent('MOVE', 0.06);
    lifeEvent('DIVORCE', age >= 25 ? 0.015 : 0);
    lifeEvent('RETIREMENT', age >= 60 && age <= 70 ? 0.1 : 0);

    out.member_activity_profile.push({
      member_key: memberKey,
      archetype: `${archetype}/${trendKind}/${weekdayShape}${habitual ? '+daily-habit' : ''}`,
      base_daily_sessions: round4(baseRate),
      trend_per_30d: round4(trend),
      hour_weights: hourWeights,
      weekday_weights: weekdayWeights,
      peak_hour_local: peakHour,
      appointment_rate_per_30d: round4(apptRate),
      message_propensity: messagePropensity,
      p_active_next_24h: round4(p24),
      p_active_next_7d: round4(p7),
    });
    for (const e of events) {
      out.member_events.push({ member_key: memberKey, occurred_at: iso(e.t), event_type_id: e.type, feature_name: e.feature });
    }
  }
}

function payerMemberId(rng: Rng, p: PayerDef): string {
  switch (p.id) {
    case '60054':
      return `W${digits(rng, 9)}`;
    case '62308':
      return `U${digits(rng, 8)}01`;
    case '61101':
      return `H${digits(rng, 8)}`;
    case 'CMS': {
      const letters = 'ACDEFGHJKMNPQRTUVWXY';
      let mbi = String(rng.int(1, 9));
      for (let i = 0; i < 10; i++) mbi += i % 3 === 0 ? letters[rng.int(0, letters.length - 1)] : String(rng.int(0, 9));
      return mbi;
    }
    case '94036':
      return `XEA${digits(rng, 9)}`;
    case '84980':
      return `ZGP${digits(rng, 9)}`;
    default:
      return digits(rng, 9);
  }
}

function emptyChunk(): MemberChunk {
  return {
    families: [],
    members: [],
    coverages: [],
    member_engagement: [],
    member_care: [],
    member_health: [],
    member_life_events: [],
    member_events: [],
    member_activity_profile: [],
  };
}
