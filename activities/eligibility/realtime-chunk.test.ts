import { silentLogger } from '../../lib/logger';
import { syntheticMembers } from '../../lib/member-fixtures';
import type { MemberRecord } from '../../lib/member-record';
import type { CachePutInput, CachePutResult, EligibilityCacheEntry } from '../cache';
import type { StoredMemberOutcome } from '../batch/ports';
import type { EligibilityActivityDeps } from './activities';
import { chunkPorts } from './realtime-chunk';

const members = syntheticMembers(5);
const entryOf = (i: CachePutInput): EligibilityCacheEntry => ({ summary: i.summary, fetchedAt: i.fetchedAt, expiresAt: i.fetchedAt + 1, source: i.source, outcome: i.outcome });
const put = (memberId: string): CachePutInput => ({ memberId, operation: 'coverage', summary: {} as CachePutInput['summary'], outcome: 'success', source: 'batch', fetchedAt: 1 });

function base() {
  const reads: string[][] = [];
  const putGroups: number[] = [];
  const records: StoredMemberOutcome[][] = [];
  const deps = {
    members: {
      async getMemberRecords(ids: readonly string[]) {
        reads.push([...ids]);
        return new Map(members.filter((m) => ids.includes(m.memberId)).map((m): [string, MemberRecord] => [m.memberId, m]));
      },
    },
    cache: {
      get: async () => null,
      put: async (i: CachePutInput): Promise<CachePutResult> => ({ written: true, entry: entryOf(i) }),
      putMany: async (inputs: readonly CachePutInput[]) => {
        putGroups.push(inputs.length);
        await new Promise((r) => setTimeout(r, 5));
        return inputs.map((i): PromiseSettledResult<CachePutResult> => ({ status: 'fulfilled', value: { written: true, entry: entryOf(i) } }));
      },
    },
    batchOutcomes: {
      record: async (_batchId: string, outcomes: readonly StoredMemberOutcome[]) => {
        records.push([...outcomes]);
        await new Promise((r) => setTimeout(r, 5));
      },
    },
  } as unknown as EligibilityActivityDeps;
  return { deps, reads, putGroups, records };
}

describe('chunkPorts (a chunk shares its members stores)', () => {
  it('reads the chunk members in one directory call and answers their lookups from it; other ids go to the directory', async () => {
    const b = base();
    const ids = members.slice(0, 3).map((m) => m.memberId);
    const ports = await chunkPorts(b.deps, [...ids, 'm_missing'], silentLogger());
    expect(b.reads).toEqual([[...ids, 'm_missing']]);
    expect((await ports.members.getMemberRecords([ids[1]!])).get(ids[1]!)?.lastName).toBe(members[1]!.lastName);
    // Known to be absent: answered without a read.
    expect((await ports.members.getMemberRecords(['m_missing'])).size).toBe(0);
    expect(b.reads).toHaveLength(1);
    const other = members[4]!.memberId;
    expect((await ports.members.getMemberRecords([other])).get(other)?.memberId).toBe(other);
    expect(b.reads).toHaveLength(2);
  });

  it('a failed chunk read leaves every member to read its own record', async () => {
    const b = base();
    const calls: number[] = [];
    const failing = { ...b.deps, members: { getMemberRecords: async (ids: readonly string[]) => (calls.push(ids.length), ids.length > 1 ? Promise.reject(new Error('pg down')) : b.deps.members.getMemberRecords(ids)) } };
    const ports = await chunkPorts(failing, members.slice(0, 2).map((m) => m.memberId), silentLogger());
    expect((await ports.members.getMemberRecords([members[0]!.memberId])).size).toBe(1);
    expect(calls).toEqual([2, 1]);
  });

  it('cache writes and outcome records that arrive while one is out go together, each caller getting its own result', async () => {
    const b = base();
    const ports = await chunkPorts(b.deps, [], silentLogger());
    const ids = members.map((m) => m.memberId);
    const results = await Promise.all(ids.map((id) => ports.cache.put(put(id))));
    expect(results.map((r) => r.written && r.entry.fetchedAt)).toEqual(ids.map(() => 1));
    expect(b.putGroups).toEqual([1, 4]);
    await Promise.all(ids.map((id, k) => ports.batchOutcomes!.record('b1', [{ memberIndex: k, memberId: id, success: true }])));
    expect(b.records.map((r) => r.map((o) => o.memberIndex))).toEqual([[0], [1, 2, 3, 4]]);
  });
});
