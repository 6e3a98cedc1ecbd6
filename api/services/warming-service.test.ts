import { WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { FieldError } from '../../lib/errors';
import { ConnectError, Code } from '@connectrpc/connect';
import { checkWarmCacheSource, validateWarmCache } from './warming-service';

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
    ['an id with a leading space', { memberIds: ['M-1', ' M-2'] }, 'member_ids[1]'],
    ['an id with a NUL', { memberIds: ['M-1\u0000'] }, 'member_ids[0]'],
    ['an id with a newline', { memberIds: ['M-1', 'M-2', 'M-3\n'] }, 'member_ids[2]'],
    ['an unknown operation', { operations: ['get_benefits'] }, 'operations[0]'],
    ['a duplicate operation', { operations: ['check_eligibility', 'check_eligibility'] }, 'operations[1]'],
    ['an unknown strategy', { strategy: 9 as S }, 'strategy'],
    ['an unknown priority', { priority: 7 as P }, 'priority'],
    ['a bad source', { source: 'has space' }, 'source'],
  ])('refuses %s with its field', (_name, patch, field) => {
    expect(fieldOf(() => validateWarmCache({ ...base, ...patch }))).toBe(field);
  });
});

describe('checkWarmCacheSource', () => {
  const who = (scopes: string[]) => ({ service: 'svc', scopes: new Set(scopes) });
  const codeOf = (f: () => void) => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return Code[ConnectError.from(e).code];
    }
  };
  it('the platform\'s own sources (member-cron-*, schedule-*) need rte:admin; any other source is the caller\'s', () => {
    expect(codeOf(() => checkWarmCacheSource('member-cron-daily-rte-warmup', who(['rte:warming:write'])))).toBe('PermissionDenied');
    expect(codeOf(() => checkWarmCacheSource('schedule-morning-preload', who(['rte:warming:write'])))).toBe('PermissionDenied');
    expect(codeOf(() => checkWarmCacheSource('schedule-morning-preload', who(['rte:admin'])))).toBe('ok');
    // The design doc's own examples stay open: "member-cron", "manual-trigger", "appointment-scheduled".
    for (const s of ['member-cron', 'manual-trigger', 'appointment-scheduled', 'scheduled-visit']) expect(codeOf(() => checkWarmCacheSource(s, who(['rte:warming:write'])))).toBe('ok');
  });
});
