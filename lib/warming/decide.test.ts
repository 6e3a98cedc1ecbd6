import { decideWarm, resolveOperations, type WarmDecision } from './decide';
import type { WarmingPriority, WarmingStrategyName } from './types';

const NOW = 1_800_000_000_000;
const entries = {
  missing: null,
  fresh: { outcome: 'success' as const, fetchedAt: NOW - 60_000, expiresAt: NOW + 3_600_000 },
  stale: { outcome: 'success' as const, fetchedAt: NOW - 23 * 3_600_000, expiresAt: NOW - 3_600_000 },
  freshError: { outcome: 'error' as const, fetchedAt: NOW - 60_000, expiresAt: NOW + 240_000 },
  staleError: { outcome: 'error' as const, fetchedAt: NOW - 600_000, expiresAt: NOW - 300_000 },
  // An expired answer kept through a payer outage, the "retry later" error beside it.
  staleKeptError: { outcome: 'success' as const, fetchedAt: NOW - 23 * 3_600_000, expiresAt: NOW - 3_600_000, lastPayerError: { expiresAt: NOW + 240_000 } },
  staleKeptErrorOver: { outcome: 'success' as const, fetchedAt: NOW - 23 * 3_600_000, expiresAt: NOW - 3_600_000, lastPayerError: { expiresAt: NOW - 1_000 } },
};
type State = keyof typeof entries;

const RT: WarmDecision['action'] = 'fetch';
const rows: Array<[WarmingStrategyName, WarmingPriority, State, string]> = [
  ['INTELLIGENT', 'URGENT', 'missing', 'realtime'],
  ['INTELLIGENT', 'PRELOAD', 'missing', 'batch_api'],
  ['INTELLIGENT', 'BACKGROUND', 'missing', 'batch_api'],
  ['INTELLIGENT', 'URGENT', 'fresh', 'skipped_fresh'],
  ['INTELLIGENT', 'PRELOAD', 'fresh', 'skipped_fresh'],
  ['INTELLIGENT', 'URGENT', 'stale', 'batch_api'],
  ['INTELLIGENT', 'PRELOAD', 'stale', 'batch_api'],
  ['INTELLIGENT', 'URGENT', 'freshError', 'skipped_fresh'],
  ['INTELLIGENT', 'PRELOAD', 'staleError', 'batch_api'],
  ['INTELLIGENT', 'URGENT', 'staleKeptError', 'skipped_fresh'],
  ['INTELLIGENT', 'PRELOAD', 'staleKeptErrorOver', 'batch_api'],
  ['FORCE', 'PRELOAD', 'staleKeptError', 'realtime'],
  ['FILL_ONLY', 'PRELOAD', 'staleKeptError', 'skipped_cached'],
  ['FORCE', 'URGENT', 'missing', 'realtime'],
  ['FORCE', 'PRELOAD', 'fresh', 'realtime'],
  ['FORCE', 'BACKGROUND', 'stale', 'realtime'],
  ['FORCE', 'PRELOAD', 'freshError', 'realtime'],
  ['FILL_ONLY', 'URGENT', 'missing', 'batch_api'],
  ['FILL_ONLY', 'PRELOAD', 'missing', 'batch_api'],
  ['FILL_ONLY', 'URGENT', 'fresh', 'skipped_cached'],
  ['FILL_ONLY', 'PRELOAD', 'stale', 'skipped_cached'],
  ['FILL_ONLY', 'PRELOAD', 'freshError', 'skipped_cached'],
  ['FILL_ONLY', 'BACKGROUND', 'staleError', 'skipped_cached'],
];

describe('decideWarm (design doc strategy table)', () => {
  it.each(rows)('%s %s with a %s entry → %s', (strategy, priority, state, expected) => {
    const d = decideWarm(strategy, priority, entries[state], NOW);
    expect(d.action === RT ? d.path : d.outcome).toBe(expected);
  });

  it('an entry expiring exactly now is stale', () => {
    expect(decideWarm('INTELLIGENT', 'PRELOAD', { outcome: 'success', fetchedAt: NOW - 1, expiresAt: NOW }, NOW)).toEqual({ action: 'fetch', path: 'batch_api' });
  });

  it('rejects an unknown strategy', () => {
    expect(() => decideWarm('SOMETIMES' as WarmingStrategyName, 'URGENT', null, NOW)).toThrow(RangeError);
  });
});

describe('decideWarm with a horizon: INTELLIGENT judges "fresh" through the use (issue 11)', () => {
  const H = 3_600_000;
  // Fresh now, expires in 1 h (entries.fresh); the predicted use ends in 5 h.
  it.each([
    ['URGENT', 'fresh', NOW + 5 * H, 'batch_api'], // fresh now, stale at the use: refreshed like a stale entry
    ['PRELOAD', 'fresh', NOW + 5 * H, 'batch_api'],
    ['URGENT', 'fresh', NOW + 30 * 60_000, 'skipped_fresh'], // still fresh through the horizon
    ['PRELOAD', 'fresh', NOW - H, 'skipped_fresh'], // a horizon already past: judged now
    ['URGENT', 'missing', NOW + 5 * H, 'realtime'], // a miss stays a miss: URGENT real time
    ['PRELOAD', 'missing', NOW + 5 * H, 'batch_api'],
    ['URGENT', 'stale', NOW + 5 * H, 'batch_api'],
    ['URGENT', 'freshError', NOW + 5 * H, 'batch_api'], // the cached payer error will have expired by the use
    ['URGENT', 'freshError', NOW + 60_000, 'skipped_fresh'],
  ] as Array<[WarmingPriority, State, number, string]>)('INTELLIGENT %s, %s entry, horizon %d → %s', (priority, state, horizon, expected) => {
    const d = decideWarm('INTELLIGENT', priority, entries[state], NOW, horizon);
    expect(d.action === RT ? d.path : d.outcome).toBe(expected);
  });

  it('the skip says why: fresh through the horizon', () => {
    expect(decideWarm('INTELLIGENT', 'PRELOAD', entries.fresh, NOW, NOW + 60_000)).toEqual({ action: 'skip', outcome: 'skipped_fresh', reason: 'entry fresh through the horizon' });
  });

  it('FORCE and FILL_ONLY ignore the horizon', () => {
    expect(decideWarm('FILL_ONLY', 'PRELOAD', entries.fresh, NOW, NOW + 5 * H)).toMatchObject({ action: 'skip', outcome: 'skipped_cached' });
    expect(decideWarm('FILL_ONLY', 'PRELOAD', entries.stale, NOW, NOW + 5 * H)).toMatchObject({ action: 'skip', outcome: 'skipped_cached' });
    expect(decideWarm('FORCE', 'PRELOAD', entries.fresh, NOW, NOW + 5 * H)).toEqual({ action: 'fetch', path: 'realtime' });
  });
});

describe('resolveOperations', () => {
  it('empty means every warmable operation; duplicates collapse', () => {
    expect(resolveOperations([])).toEqual(['check_eligibility']);
    expect(resolveOperations(['check_eligibility', 'check_eligibility'])).toEqual(['check_eligibility']);
  });
  it('an operation warms the cache entry CheckEligibility reads for it, once however many name it', () => {
    expect(resolveOperations(['get_benefits'])).toEqual(['check_eligibility']);
    expect(resolveOperations(['check_eligibility', 'get_benefits', 'estimate_cost'])).toEqual(['check_eligibility']);
  });
});
