import { silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { createBatchActivities, type BatchActivityDeps, type PlanMembersInput } from './activities';
import { createInMemoryBatchErrorStore, createInMemoryMemberListStore } from './memory-stores';

/**
 * Probe batch #15: a CACHE_ONLY batch reported a member that is not in the directory as NOT_CACHED ("no cached
 * eligibility"), as if a cache warm could answer it. Every other cache mode reports it as MemberNotFoundError.
 */
async function plan(window: PlanMembersInput['window'], known: string[]) {
  const lists = createInMemoryMemberListStore();
  const errors = createInMemoryBatchErrorStore();
  const lookups: string[][] = [];
  const directory = {
    async getMemberRecords(ids: string[]) {
      lookups.push([...ids]);
      return new Map(ids.filter((id) => known.includes(id)).map((id) => [id, { memberId: id, timeZone: 'America/New_York' } as unknown as MemberRecord]));
    },
  };
  const cache = { getMany: async (keys: unknown[]) => keys.map(() => null) };
  const acts = createBatchActivities({ lists, errors, directory, cache, logger: silentLogger(), now: () => 1_700_000_000_000 } as unknown as BatchActivityDeps);
  await lists.write('b#members', 0, ['m_1', 'nosuch_1', 'm_2']);
  const r = await acts.planMembers({
    batchId: 'b',
    listRef: 'b#members',
    start: 0,
    count: 3,
    total: 3,
    cacheMode: 'CACHE_ONLY',
    operation: 'op',
    window,
    scheduleBaseMs: 1_700_000_000_000,
    nowMs: 1_700_000_000_000 + 3 * 86_400_000,
    load: 0,
    mode: 'realtime',
    refsOnly: true,
  });
  const stored = (await errors.page('b', -1, 10)).errors.map((e) => ({ memberId: e.memberId, errorCode: e.errorCode, errorMessage: e.errorMessage }));
  return { r, stored, lookups };
}

test.each(['ANY', 'EVENING'] as const)('CACHE_ONLY (window %s): an unknown member is MemberNotFoundError like in the other modes; a known uncached one NOT_CACHED', async (window) => {
  const { r, stored, lookups } = await plan(window, ['m_1', 'm_2']);
  expect(stored).toEqual([
    { memberId: 'm_1', errorCode: 'NOT_CACHED', errorMessage: 'CACHE_ONLY: no cached eligibility for this member' },
    { memberId: 'nosuch_1', errorCode: 'MemberNotFoundError', errorMessage: 'member is not in the directory' },
    { memberId: 'm_2', errorCode: 'NOT_CACHED', errorMessage: 'CACHE_ONLY: no cached eligibility for this member' },
  ]);
  // All three failed, none goes to Stedi.
  expect(r).toMatchObject({ kind: 'plan', hits: 0, hitErrors: 0, notCached: 3, refreshCount: 0 });
  // The directory is read once per page.
  expect(lookups).toHaveLength(1);
});
