import { isHighConfidencePrediction } from './high-confidence';
import { RULE_BASED_MODEL_VERSION, RuleBasedActivityPredictor, recencyOnlyProbability } from './rule-based';
import type { LifecycleEvent } from './types';

const DAY = 86_400_000;
const NOW = Date.parse('2024-10-09T00:00:00Z'); // a Wednesday outside open enrollment
const predictor = new RuleBasedActivityPredictor();

/** Sessions every `everyDays` days at 19:00 UTC over the last `days` days. */
function sessions(everyDays: number, days = 90, from = NOW): LifecycleEvent[] {
  const out: LifecycleEvent[] = [];
  for (let d = everyDays; d <= days; d += everyDays) out.push({ type: 'APP_SESSION_STARTED', at: from - d * DAY + 19 * 3_600_000 });
  return out;
}

const predict = (events: LifecycleEvent[], extra: { nextAppointmentAt?: number } = {}) =>
  predictor.predict({ now: NOW, timeZone: 'UTC', events, ...extra });

describe('RuleBasedActivityPredictor', () => {
  it('orders members by how often they use the app', () => {
    const daily = predict(sessions(1));
    const weekly = predict(sessions(7));
    const never = predict([]);
    expect(daily.appUsageProbability).toBeGreaterThan(0.5);
    expect(weekly.appUsageProbability).toBeGreaterThan(0.05);
    expect(weekly.appUsageProbability).toBeLessThan(daily.appUsageProbability);
    expect(never.appUsageProbability).toBeLessThan(0.01);
    expect(daily.modelVersion).toBe(RULE_BASED_MODEL_VERSION);
  });

  it('is confident about a long, regular history and not about a two-day-old account', () => {
    const regular = predict(sessions(1));
    const fresh = predict([{ type: 'ACCOUNT_CREATED', at: NOW - 2 * DAY }, ...sessions(1, 2)]);
    expect(regular.confidence).toBeGreaterThan(0.8);
    expect(fresh.confidence).toBeLessThan(0.2);
  });

  it('follows the trend: usage that stopped a month ago predicts less than steady usage', () => {
    const steady = predict(sessions(2));
    const stopped = predict(sessions(2).filter((e) => e.at < NOW - 30 * DAY));
    const growing = predict(sessions(1, 30).concat(sessions(6).filter((e) => e.at < NOW - 30 * DAY)));
    expect(stopped.appUsageProbability).toBeLessThan(steady.appUsageProbability / 2);
    expect(growing.factors.find((f) => f.name === 'trend')?.value).toBeGreaterThan(1);
  });

  it('raises the probability and predicts an eligibility check before an appointment tomorrow', () => {
    const base = predict(sessions(14));
    const withAppt = predict(sessions(14), { nextAppointmentAt: NOW + 0.5 * DAY });
    expect(withAppt.appUsageProbability).toBeGreaterThan(base.appUsageProbability + 0.2);
    expect(withAppt.predictedOperations).toContain('check_eligibility');
    expect(withAppt.factors.map((f) => f.name)).toContain('upcoming_appointment_days');
  });

  it('puts a member who opens the app on most days in the high-confidence group, and a weekly user not', () => {
    // Active on 9 days out of 10 for 90 days (one session a day): a habit, not a Poisson rate of 0.9/day.
    const habitual = sessions(1).filter((e) => Math.round((NOW - e.at) / DAY) % 10 !== 3);
    const p = predict(habitual);
    expect(p.appUsageProbability).toBeGreaterThan(0.8);
    expect(isHighConfidencePrediction(p)).toBe(true);
    expect(isHighConfidencePrediction(predict(sessions(7)))).toBe(false);
    expect(isHighConfidencePrediction(predict(sessions(2)))).toBe(false);
  });

  it('learns from past visits whether the member opens the app before an appointment', () => {
    const pastVisits = [20, 40, 60].map((d) => NOW - d * DAY + 15 * 3_600_000);
    const completed = pastVisits.map((at) => ({ type: 'APPOINTMENT_COMPLETED', at }));
    const beforeEachVisit = pastVisits.map((at) => ({ type: 'APP_SESSION_STARTED', at: at - 3 * 3_600_000 }));
    const rare = sessions(30, 90, NOW - 5 * DAY);
    const checksIn = predict([...rare, ...completed, ...beforeEachVisit], { nextAppointmentAt: NOW + 0.6 * DAY });
    const never = predict([...rare, ...completed, ...pastVisits.map((at) => ({ type: 'APP_SESSION_STARTED', at: at + 5 * DAY }))], { nextAppointmentAt: NOW + 0.6 * DAY });
    expect(checksIn.appUsageProbability).toBeGreaterThan(never.appUsageProbability + 0.2);
    // The visit window of an appointment the day after tomorrow only partly falls in the horizon.
    const later = predict([...rare, ...completed, ...beforeEachVisit], { nextAppointmentAt: NOW + 1.6 * DAY });
    expect(later.appUsageProbability).toBeLessThan(checksIn.appUsageProbability);
  });

  it('predicts coverage and cost operations from features used, and reports the peak hour', () => {
    const events = [...sessions(1), { type: 'FEATURE_USED', at: NOW - DAY, feature: 'cost_estimator' }, { type: 'FEATURE_USED', at: NOW - DAY, feature: 'id_card' }];
    const p = predict(events);
    expect(p.predictedOperations).toEqual(['check_eligibility', 'get_coverage', 'estimate_cost']);
    expect(p.peakLocalHour).toBe(19);
  });

  it('uses the member’s local time for the hour-of-day pattern', () => {
    const p = predictor.predict({ now: NOW, timeZone: 'America/New_York', events: sessions(1) });
    expect(p.peakLocalHour).toBe(15); // 19:00 UTC = 15:00 EDT
  });

  it('predicts the usage window from the member’s busiest session hours, at their next occurrence', () => {
    const p = predict(sessions(1)); // every day at 19:00 UTC; NOW is 00:00 UTC
    expect(p.predictedWindow).not.toBeNull();
    const { startMs, endMs } = p.predictedWindow!;
    expect(endMs - startMs).toBe(3 * 3_600_000);
    expect(startMs).toBeLessThanOrEqual(NOW + 19 * 3_600_000);
    expect(endMs).toBeGreaterThan(NOW + 19 * 3_600_000);
    expect(startMs).toBeGreaterThanOrEqual(NOW);
    // Local time: a New York member with the same UTC habit gets the same instants.
    const ny = predictor.predict({ now: NOW, timeZone: 'America/New_York', events: sessions(1) });
    expect(ny.predictedWindow).toEqual(p.predictedWindow);
  });

  it('clips a window already under way to the horizon start', () => {
    const p = predictor.predict({ now: NOW + 20 * 3_600_000, timeZone: 'UTC', events: sessions(1) });
    expect(p.predictedWindow!.startMs).toBe(NOW + 20 * 3_600_000);
    expect(p.predictedWindow!.endMs).toBeLessThanOrEqual(NOW + 22 * 3_600_000);
  });

  it('uses the pre-visit day when an appointment is the likelier reason to open the app, and no window without data', () => {
    const appt = NOW + 0.75 * DAY;
    const p = predict([{ type: 'APP_SESSION_STARTED', at: NOW - 60 * DAY }], { nextAppointmentAt: appt });
    expect(p.predictedWindow).toEqual({ startMs: NOW, endMs: appt });
    expect(predict([]).predictedWindow).toBeNull();
  });

  it('recency baseline ranks a member seen yesterday above one seen last month', () => {
    expect(recencyOnlyProbability({ now: NOW, timeZone: 'UTC', events: sessions(1) })).toBeGreaterThan(
      recencyOnlyProbability({ now: NOW, timeZone: 'UTC', events: sessions(30) }),
    );
    expect(recencyOnlyProbability({ now: NOW, timeZone: 'UTC', events: [] })).toBe(0);
  });
});
