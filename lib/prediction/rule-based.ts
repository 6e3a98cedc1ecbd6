import type { ActivityPredictionResult, ActivityPredictor, LifecycleEvent, PredictionFactor, PredictionInput } from './types';

/**
 * v1 activity predictor: explainable rules over a member's recent lifecycle events.
 *
 *  1. Session rate. App sessions per day over the last 30 days, shrunk towards the member's 90-day rate
 *     (a few sessions should not swing the estimate), then extrapolated to "now" with the member's own
 *     trend (last 30 days vs the 60 before, damped and clamped).
 *  2. Weekday pattern. How often the member uses the app on the weekday the horizon falls on (member's
 *     local time), strongly shrunk towards "no preference".
 *  3. Seasonality. Open enrollment (Nov 1 - Dec 15) and the new plan year (January) raise usage a little.
 *  4. Upcoming appointment. A visit in the next 48 h makes an app visit (check-in, coverage) likelier.
 *  P(use in 24 h) = 1 - exp(-rate), then the appointment bump. Confidence falls with the estimate's
 *  standard error (few observed days, few sessions, a strong trend). Hour-of-day yields the peak local
 *  hour for timing the warm-up. Every step is recorded in `factors`.
 */
export const RULE_BASED_MODEL_VERSION = 'rule-based/1';

const DAY = 86_400_000;
const SESSION = 'APP_SESSION_STARTED';
const SHRINK_DAYS = 10;

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const partsCache = new Map<string, Intl.DateTimeFormat>();
function localHourAndWeekday(timeZone: string, at: number): { hour: number; weekday: number } {
  let fmt = partsCache.get(timeZone);
  if (!fmt) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short' });
    } catch {
      fmt = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hour: 'numeric', hourCycle: 'h23', weekday: 'short' });
    }
    partsCache.set(timeZone, fmt);
  }
  let hour = 0;
  let weekday = 0;
  for (const p of fmt.formatToParts(new Date(at))) {
    if (p.type === 'hour') hour = Number(p.value) % 24;
    if (p.type === 'weekday') weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.value);
  }
  return { hour, weekday: Math.max(0, weekday) };
}

export function isOpenEnrollment(at: number): boolean {
  const d = new Date(at);
  const m = d.getUTCMonth();
  return m === 10 || (m === 11 && d.getUTCDate() <= 15);
}

export function predictedOperations(input: PredictionInput, p: number, appointmentSoon: boolean): string[] {
  const ops = new Set<string>();
  const recent = input.events.filter((e) => e.at >= input.now - 30 * DAY);
  const features = new Set(input.events.filter((e) => e.type === 'FEATURE_USED' && e.feature).map((e) => e.feature as string));
  const checkedRte = input.events.some((e) => e.type === 'ELIGIBILITY_CHECKED' || e.type === 'ELIGIBILITY_CHECK_FAILED');
  if (p >= 0.2 || appointmentSoon || checkedRte) ops.add('check_eligibility');
  if (isOpenEnrollment(input.now) || recent.some((e) => e.type === 'COVERAGE_CHANGED' || e.type === 'ENROLLMENT_COMPLETED') || features.has('id_card')) {
    ops.add('get_coverage');
  }
  if (features.has('benefits_lookup')) ops.add('get_benefits');
  if (features.has('cost_estimator')) ops.add('estimate_cost');
  return [...ops];
}

export class RuleBasedActivityPredictor implements ActivityPredictor {
  readonly modelVersion = RULE_BASED_MODEL_VERSION;

  predict(input: PredictionInput): ActivityPredictionResult {
    const factors: PredictionFactor[] = [];
    const historyDays = input.historyDays ?? 90;
    const created = input.events.find((e) => e.type === 'ACCOUNT_CREATED')?.at;
    const windowStart = Math.max(input.now - historyDays * DAY, created ?? -Infinity);
    const observedDays = Math.max(1, (input.now - windowStart) / DAY);
    const sessions: LifecycleEvent[] = input.events.filter((e) => e.type === SESSION && e.at < input.now && e.at >= windowStart);
    const recentDays = Math.min(30, observedDays);
    const priorDays = observedDays - recentDays;
    const nAll = sessions.length;
    const nRecent = sessions.filter((e) => e.at >= input.now - 30 * DAY).length;
    const nPrior = nAll - nRecent;

    // 1. Rate and trend.
    const longRate = (nAll + 0.1) / (observedDays + 3);
    const recentRate = (nRecent + SHRINK_DAYS * longRate) / (recentDays + SHRINK_DAYS);
    let trendFactor = 1;
    if (priorDays >= 14) {
      const priorRate = (nPrior + SHRINK_DAYS * longRate) / (priorDays + SHRINK_DAYS);
      const gapDays = recentDays / 2 + priorDays / 2;
      trendFactor = clamp(Math.pow(recentRate / priorRate, recentDays / 2 / gapDays), 0.5, 2);
    }
    let rate = recentRate * trendFactor;
    factors.push({ name: 'sessions_last_30d', value: nRecent, effect: `recent rate ${round(recentRate, 3)}/day (shrunk towards the ${Math.round(observedDays)}-day rate ${round(longRate, 3)}/day)` });
    if (trendFactor !== 1) factors.push({ name: 'trend', value: round(trendFactor, 3), effect: trendFactor > 1 ? 'usage growing: rate raised' : 'usage declining: rate lowered' });

    const lastSession = sessions.reduce((m, e) => Math.max(m, e.at), -Infinity);
    const daysSinceLast = Number.isFinite(lastSession) ? (input.now - lastSession) / DAY : null;
    factors.push({ name: 'days_since_last_session', value: daysSinceLast === null ? 'none in window' : round(daysSinceLast, 1), effect: 'recency (already reflected in the recent rate)' });

    // 2. Weekday pattern (local time, at the middle of the horizon).
    const hourCounts = new Array<number>(24).fill(0);
    const weekdayCounts = new Array<number>(7).fill(0);
    for (const s of sessions) {
      const { hour, weekday } = localHourAndWeekday(input.timeZone, s.at);
      hourCounts[hour] = (hourCounts[hour] ?? 0) + 1;
      weekdayCounts[weekday] = (weekdayCounts[weekday] ?? 0) + 1;
    }
    if (nAll >= 7) {
      const { weekday } = localHourAndWeekday(input.timeZone, input.now + 12 * 3_600_000);
      const k = 6;
      const wf = clamp(((weekdayCounts[weekday] ?? 0) + k) / (nAll / 7 + k), 0.6, 1.6);
      rate *= wf;
      factors.push({ name: 'weekday_pattern', value: round(wf, 3), effect: `local weekday ${weekday} usage vs average` });
    }
    let peakLocalHour: number | null = null;
    if (nAll > 0) {
      peakLocalHour = hourCounts.indexOf(Math.max(...hourCounts));
      factors.push({ name: 'peak_local_hour', value: peakLocalHour, effect: 'warm 2-4 h before this hour' });
    }

    // 3. Seasonality.
    const month = new Date(input.now).getUTCMonth();
    if (isOpenEnrollment(input.now) || month === 0) {
      rate *= 1.1;
      factors.push({ name: 'season', value: month === 0 ? 'new plan year' : 'open enrollment', effect: 'rate x1.1' });
    }

    let p = 1 - Math.exp(-rate);

    // 4. Upcoming appointment.
    const appt = input.nextAppointmentAt ?? null;
    const untilAppt = appt !== null && appt >= input.now ? (appt - input.now) / DAY : null;
    const appointmentSoon = untilAppt !== null && untilAppt < 2;
    if (appointmentSoon && untilAppt !== null) {
      const bump = untilAppt < 1 ? 0.3 : 0.15;
      p = 1 - (1 - p) * (1 - bump);
      factors.push({ name: 'upcoming_appointment_days', value: round(untilAppt, 2), effect: `P raised by ${bump} of the remaining headroom` });
    }

    // Confidence from the standard error of the probability estimate.
    const effectiveDays = recentDays + 0.5 * priorDays + SHRINK_DAYS * Math.min(1, priorDays / 30);
    const sdRate = Math.sqrt(Math.max(rate, 0.01) / effectiveDays);
    const sdTrend = Math.abs(Math.log(trendFactor)) * rate * 0.5;
    const sdP = Math.exp(-rate) * Math.sqrt(sdRate * sdRate + sdTrend * sdTrend);
    const coverage = Math.min(1, observedDays / 30);
    const confidence = clamp(Math.exp(-sdP / 0.25) * coverage, 0, 1);
    factors.push({ name: 'observed_days', value: Math.round(observedDays), effect: `confidence from estimate s.e. ${round(sdP, 3)}` });

    return {
      appUsageProbability: round(clamp(p, 0, 1)),
      predictedOperations: predictedOperations(input, p, appointmentSoon),
      confidence: round(confidence),
      modelVersion: this.modelVersion,
      factors,
      peakLocalHour,
    };
  }
}

/** The comparison baseline: probability from recency alone (days since the last app session). */
export function recencyOnlyProbability(input: PredictionInput): number {
  let last = -Infinity;
  for (const e of input.events) if (e.type === SESSION && e.at < input.now && e.at > last) last = e.at;
  if (!Number.isFinite(last)) return 0;
  const days = (input.now - last) / DAY;
  return 1 - Math.exp(-1 / (1 + days));
}
