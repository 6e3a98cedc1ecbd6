import type { ActivityPredictionResult, ActivityPredictor, LifecycleEvent, PredictedWindow, PredictionFactor, PredictionInput } from './types';

/**
 * Activity predictor: explainable rules over a member's recent lifecycle events.
 *
 *  1. Active days. The history is cut into 24 h windows aligned with `now` (the same shape as the
 *     horizon [now, now + 24 h)); the share of windows with an app session over the last 30 is shrunk
 *     towards the member's whole-history share and turned into a daily hazard h = -ln(1 - share). For a
 *     member whose sessions arrive at random h is the session rate; for a habitual member (a session on
 *     most days) it stays high where a session count would not (daily users are regular, not Poisson).
 *  2. Trend. The hazard of the last 30 windows vs the ones before, damped and clamped, extrapolated to now.
 *  3. Weekday pattern. The member's hazard on the horizon's weekday (member-local) vs all weekdays,
 *     strongly shrunk towards "no preference".
 *  4. Seasonality. Open enrollment (Nov 1 - Dec 15) and the new plan year (January) raise usage by 10 %,
 *     relative to how much of the last 30 days already was in season (no double counting).
 *  5. Upcoming appointment. Members open the app in the day before a visit (check-in, ID card, coverage).
 *     The member's own rate of doing so before past completed appointments, shrunk towards a prior (0.7
 *     for app users, 0.25 for members with no session in the window), times the part of that 24 h
 *     pre-visit window inside the horizon, conditioned on the visit not having happened yet.
 *  P(use in 24 h) = 1 - e^(-h) combined with the appointment visit as independent reasons to open the app.
 *  Confidence falls with the standard error of P (windows observed, active share, trend strength,
 *  appointments observed). Hour-of-day yields the peak local hour for timing the warm-up. Every step is
 *  recorded in `factors`.
 */
// Kept at /1 while the member-cron tests pin the emitted version; bump with them (see docs/member-cron.md).
export const RULE_BASED_MODEL_VERSION = 'rule-based/2';

const DAY = 86_400_000;
const SESSION = 'APP_SESSION_STARTED';
const SHRINK_DAYS = 10;
const RECENT_WINDOWS = 30;
const WEEKDAY_SHRINK = 6;
const SEASON_BOOST = 1.1;
/** Pre-visit window assumed before an appointment, and the prior rate of opening the app in it. */
const PRE_VISIT_MS = DAY;
const VISIT_PRIOR_APP_USER = 0.7;
const VISIT_PRIOR_NON_USER = 0.25;
const VISIT_PRIOR_WEIGHT = 4;

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

/** Daily hazard of a share of active days (share < 1 thanks to shrinkage; capped for safety). */
function hazard(share: number): number {
  return -Math.log(1 - Math.min(share, 0.999));
}

function inSeason(at: number): boolean {
  return isOpenEnrollment(at) || new Date(at).getUTCMonth() === 0;
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
    const nAll = sessions.length;

    // 1. Active 24 h windows aligned with now: window k covers [now - (k + 1) days, now - k days).
    const nWindows = Math.max(1, Math.ceil(observedDays - 0.5));
    const active = new Set<number>();
    for (const s of sessions) {
      const k = Math.floor((input.now - s.at) / DAY);
      if (k < nWindows) active.add(k);
    }
    const recentN = Math.min(RECENT_WINDOWS, nWindows);
    const priorN = nWindows - recentN;
    let aRecent = 0;
    for (const k of active) if (k < recentN) aRecent++;
    const aPrior = active.size - aRecent;
    const shareLong = (active.size + 0.1) / (nWindows + 3);
    const shareRecent = (aRecent + SHRINK_DAYS * shareLong) / (recentN + SHRINK_DAYS);
    const hRecent = hazard(shareRecent);
    factors.push({
      name: 'active_days_last_30',
      value: aRecent,
      effect: `active on ${round(shareRecent, 3)} of days (shrunk towards the ${nWindows}-day share ${round(shareLong, 3)}): hazard ${round(hRecent, 3)}/day`,
    });

    // 2. Trend.
    let trendFactor = 1;
    if (priorN >= 14) {
      const hPrior = hazard((aPrior + SHRINK_DAYS * shareLong) / (priorN + SHRINK_DAYS));
      const gapDays = recentN / 2 + priorN / 2;
      trendFactor = clamp(Math.pow(hRecent / hPrior, recentN / 2 / gapDays), 0.5, 2);
    }
    if (trendFactor !== 1) factors.push({ name: 'trend', value: round(trendFactor, 3), effect: trendFactor > 1 ? 'usage growing: hazard raised' : 'usage declining: hazard lowered' });

    const lastSession = sessions.reduce((m, e) => Math.max(m, e.at), -Infinity);
    const daysSinceLast = Number.isFinite(lastSession) ? (input.now - lastSession) / DAY : null;
    factors.push({ name: 'days_since_last_session', value: daysSinceLast === null ? 'none in window' : round(daysSinceLast, 1), effect: 'recency (already reflected in the recent share)' });

    // 3. Weekday pattern (member-local weekday at the middle of each window and of the horizon).
    const hourCounts = new Array<number>(24).fill(0);
    for (const s of sessions) {
      const { hour } = localHourAndWeekday(input.timeZone, s.at);
      hourCounts[hour] = (hourCounts[hour] ?? 0) + 1;
    }
    let weekdayFactor = 1;
    if (nAll >= 7) {
      const { weekday } = localHourAndWeekday(input.timeZone, input.now + DAY / 2);
      let nSame = 0;
      let aSame = 0;
      // Window k's local weekday equals the horizon's when k + 1 is a multiple of 7 (midday-to-midday, so a
      // DST shift of an hour cannot move it to another day).
      for (let k = 6; k < nWindows; k += 7) {
        nSame++;
        if (active.has(k)) aSame++;
      }
      const shareAll = (active.size + 0.1) / (nWindows + 0.2);
      const shareSame = (aSame + WEEKDAY_SHRINK * shareAll) / (nSame + WEEKDAY_SHRINK);
      weekdayFactor = clamp(hazard(shareSame) / hazard(shareAll), 0.6, 1.6);
      factors.push({ name: 'weekday_pattern', value: round(weekdayFactor, 3), effect: `local weekday ${weekday}: active on ${aSame} of ${nSame} such days` });
    }
    let peakLocalHour: number | null = null;
    if (nAll > 0) {
      peakLocalHour = hourCounts.indexOf(Math.max(...hourCounts));
      factors.push({ name: 'peak_local_hour', value: peakLocalHour, effect: 'warm 2-4 h before this hour' });
    }

    // 4. Seasonality, relative to the season share of the recent windows the hazard came from.
    let seasonInWindow = 0;
    for (let k = 0; k < recentN; k++) seasonInWindow += inSeason(input.now - k * DAY - DAY / 2) ? 1 : 0;
    const seasonFactor = (inSeason(input.now + DAY / 2) ? SEASON_BOOST : 1) / (1 + (SEASON_BOOST - 1) * (seasonInWindow / recentN));
    if (seasonFactor !== 1) {
      const month = new Date(input.now).getUTCMonth();
      factors.push({ name: 'season', value: month === 0 ? 'new plan year' : isOpenEnrollment(input.now) ? 'open enrollment' : 'off season', effect: `hazard x${round(seasonFactor, 3)}` });
    }

    const multiplier = trendFactor * weekdayFactor * seasonFactor;
    const h = hRecent * multiplier;
    const pUse = 1 - Math.exp(-h);

    // 5. Upcoming appointment: the member's own habit of opening the app the day before a visit.
    const appt = input.nextAppointmentAt ?? null;
    let pAppt = 0;
    let sdAppt = 0;
    let appointmentSoon = false;
    if (appt !== null && appt >= input.now && appt < input.now + 2 * DAY) {
      appointmentSoon = true;
      const visitFrom = appt - PRE_VISIT_MS;
      const alreadyVisited = sessions.some((s) => s.at >= visitFrom);
      let visits = 0;
      let seen = 0;
      for (const e of input.events) {
        if (e.type !== 'APPOINTMENT_COMPLETED' || e.at >= input.now || e.at - PRE_VISIT_MS < windowStart) continue;
        seen++;
        if (sessions.some((s) => s.at >= e.at - PRE_VISIT_MS && s.at < e.at)) visits++;
      }
      const prior = nAll > 0 ? VISIT_PRIOR_APP_USER : VISIT_PRIOR_NON_USER;
      const q = (visits + VISIT_PRIOR_WEIGHT * prior) / (seen + VISIT_PRIOR_WEIGHT);
      const past = clamp((input.now - visitFrom) / PRE_VISIT_MS, 0, 1);
      const inside = clamp((Math.min(appt, input.now + DAY) - Math.max(visitFrom, input.now)) / PRE_VISIT_MS, 0, 1);
      const scale = alreadyVisited ? 0 : inside / (1 - q * past);
      pAppt = q * scale;
      sdAppt = Math.sqrt((q * (1 - q)) / (seen + VISIT_PRIOR_WEIGHT)) * scale;
      factors.push({
        name: 'upcoming_appointment_days',
        value: round((appt - input.now) / DAY, 2),
        effect: alreadyVisited
          ? 'already opened the app since the pre-visit window began: no extra visit expected'
          : `opened the app before ${visits} of ${seen} past visits (rate ${round(q, 2)}); ${round(inside, 2)} of the pre-visit day in the horizon: P(visit) ${round(pAppt, 3)}`,
      });
    }
    const p = 1 - (1 - pUse) * (1 - pAppt);

    // Confidence from the standard error of P (delta method over the active share, trend and visit rate).
    const effectiveDays = recentN + 0.5 * priorN + SHRINK_DAYS * Math.min(1, priorN / 30);
    const sdShare = Math.sqrt(Math.max(shareRecent * (1 - shareRecent), 0.001) / effectiveDays);
    const sdUseShare = multiplier * Math.pow(1 - shareRecent, multiplier - 1) * sdShare;
    const sdUseTrend = Math.abs(Math.log(trendFactor)) * h * 0.5 * Math.exp(-h);
    const sdUse = Math.hypot(sdUseShare, sdUseTrend);
    const sdP = Math.hypot((1 - pAppt) * sdUse, (1 - pUse) * sdAppt);
    const coverage = Math.min(1, observedDays / 30);
    const confidence = clamp(Math.exp(-sdP / 0.25) * coverage, 0, 1);
    factors.push({ name: 'observed_days', value: Math.round(observedDays), effect: `confidence from estimate s.e. ${round(sdP, 3)}` });

    // Predicted usage window: the appointment's pre-visit day when the visit is the likelier reason to open the
    // app, else the member's busiest 3-hour band of local session hours, at its next occurrence in the horizon.
    let predictedWindow: PredictedWindow | null = null;
    if (appt !== null && appointmentSoon && pAppt > 0 && pAppt >= pUse) {
      const start = Math.max(input.now, appt - PRE_VISIT_MS);
      const end = Math.min(appt, input.now + DAY);
      if (end > start) predictedWindow = { startMs: start, endMs: end };
    }
    if (!predictedWindow && nAll > 0) predictedWindow = busiestBandWindow(input.now, input.timeZone, hourCounts);
    if (predictedWindow) {
      factors.push({ name: 'predicted_window', value: new Date(predictedWindow.startMs).toISOString(), effect: `usage expected until ${new Date(predictedWindow.endMs).toISOString()}` });
    }

    return {
      predictedWindow,
      appUsageProbability: round(clamp(p, 0, 1)),
      predictedOperations: predictedOperations(input, p, appointmentSoon),
      confidence: round(confidence),
      modelVersion: this.modelVersion,
      factors,
      peakLocalHour,
    };
  }
}

const HOUR = 3_600_000;
/** Width of the predicted usage window from session hours. */
export const WINDOW_BAND_HOURS = 3;

/**
 * The next occurrence, inside [now, now + 24 h), of the member-local 3-hour band with the most sessions
 * (circular over the day; ties → the band centred on the busiest hour). Clipped to the horizon.
 */
function busiestBandWindow(now: number, timeZone: string, hourCounts: readonly number[]): PredictedWindow | null {
  let best = -1;
  let bestStart = 0;
  for (let h = 0; h < 24; h++) {
    // Ties between bands → the one whose middle hour is busiest (the band centred on the peak).
    let n = (hourCounts[(h + 1) % 24] ?? 0) / 1000;
    for (let k = 0; k < WINDOW_BAND_HOURS; k++) n += hourCounts[(h + k) % 24] ?? 0;
    if (n > best) {
      best = n;
      bestStart = h;
    }
  }
  if (best <= 0) return null;
  const firstHour = Math.floor(now / HOUR) * HOUR - (WINDOW_BAND_HOURS - 1) * HOUR;
  for (let i = 0; i < 24 + WINDOW_BAND_HOURS; i++) {
    const t = firstHour + i * HOUR;
    if (t + WINDOW_BAND_HOURS * HOUR <= now) continue;
    if (localHourAndWeekday(timeZone, t).hour !== bestStart) continue;
    const startMs = Math.max(now, t);
    const endMs = Math.min(now + DAY, t + WINDOW_BAND_HOURS * HOUR);
    if (endMs > startMs) return { startMs, endMs };
  }
  return null;
}

/** The comparison baseline: probability from recency alone (days since the last app session). */
export function recencyOnlyProbability(input: PredictionInput): number {
  let last = -Infinity;
  for (const e of input.events) if (e.type === SESSION && e.at < input.now && e.at > last) last = e.at;
  if (!Number.isFinite(last)) return 0;
  const days = (input.now - last) / DAY;
  return 1 - Math.exp(-1 / (1 + days));
}
