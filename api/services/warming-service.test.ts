import { WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { FieldError } from '../../lib/errors';
import { validateWarmCache } from './warming-service';

const base = { memberIds: ['M-1', 'M-2'], operations: [] as string[], strategy: S.INTELLIGENT, priority: P.URGENT, source: '' };
const fieldOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof FieldError ? e.fieldPath : `not a FieldError: ${String(e)}`;
  }
};

describe('validateWarmCache', () => {
  it('accepts a good request: defaults operations to all and source to manual-trigger', () => {
    expect(validateWarmCache(base)).toEqual({ memberIds: ['M-1', 'M-2'], operations: ['check_eligibility'], strategy: 'INTELLIGENT', priority: 'URGENT', source: 'manual-trigger' });
  });
  it('1,000 ids pass, 1,001 are refused naming member_ids', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `M-${i}`);
    expect(validateWarmCache({ ...base, memberIds: ids(1_000) }).memberIds).toHaveLength(1_000);
    expect(fieldOf(() => validateWarmCache({ ...base, memberIds: ids(1_001) }))).toBe('member_ids');
  });
  it.each([
    ['no ids', { memberIds: [] }, 'member_ids'],
    ['a blank id', { memberIds: ['M-1', ' '] }, 'member_ids[1]'],
    ['a duplicate id', { memberIds: ['M-1', 'M-2', 'M-1'] }, 'member_ids[2]'],
    ['an overlong id', { memberIds: ['x'.repeat(129)] }, 'member_ids[0]'],
    ['an unknown operation', { operations: ['get_benefits'] }, 'operations[0]'],
    ['a duplicate operation', { operations: ['check_eligibility', 'check_eligibility'] }, 'operations[1]'],
    ['an unknown strategy', { strategy: 9 as S }, 'strategy'],
    ['an unknown priority', { priority: 7 as P }, 'priority'],
    ['a bad source', { source: 'has space' }, 'source'],
  ])('refuses %s with its field', (_name, patch, field) => {
    expect(fieldOf(() => validateWarmCache({ ...base, ...patch }))).toBe(field);
  });
});
