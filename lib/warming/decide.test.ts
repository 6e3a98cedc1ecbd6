import { decideWarm, resolveOperations, type WarmDecision } from './decide';
import type { WarmingPriority, WarmingStrategyName } from './types';

const NOW = 1_800_000_000_000;
const entries = {
  missing: null,
  fresh: { outcome: 'success' as const, fetchedAt: NOW - 60_000, expiresAt: NOW + 3_600_000 },
  stale: { outcome: 'success' as const, fetchedAt: NOW - 23 * 3_600_000, expiresAt: NOW - 3_600_000 },
  freshError: { outcome: 'error' as const, fetchedAt: NOW - 60_000, expiresAt: NOW + 240_000 },
  staleError: { outcome: 'error' as const, fetchedAt: NOW - 600_000, expiresAt: NOW - 300_000 },
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

describe('resolveOperations', () => {
  it('empty means every warmable operation; duplicates collapse', () => {
    expect(resolveOperations([])).toEqual(['check_eligibility']);
    expect(resolveOperations(['check_eligibility', 'check_eligibility'])).toEqual(['check_eligibility']);
  });
});
