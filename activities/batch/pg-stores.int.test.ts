import { createTestDirectory, type TestDirectory } from '../../directory/test-support';
import { createPgBatchOutcomeStore, createPgMemberListStore } from './pg-stores';
import type { StoredMemberOutcome } from './ports';

/** The PostgreSQL outcome store behind WatchBatchStatus's MEMBER_COMPLETED updates, on a real server. */
describe('PostgreSQL batch outcome store (integration)', () => {
  let dir: TestDirectory;
  beforeAll(async () => {
    dir = await createTestDirectory({ seed: 3, population: 10 });
  });
  afterAll(async () => {
    await dir?.drop();
  });

  const outcome = (i: number, success = true): StoredMemberOutcome => ({ memberIndex: i, memberId: `m_${i}`, success, ...(success ? { durationMs: i } : { errorMessage: `E${i}: failed` }) });

  it('pages every outcome once, in write order, across more than one digit of sequence numbers; the first write of a member wins', async () => {
    const store = createPgBatchOutcomeStore(dir.pool);
    await store.record('batch/a/1', Array.from({ length: 1_500 }, (_, i) => outcome(i)));
    await store.record('batch/b/1', [outcome(0)]); // another batch: never mixed in
    await store.record('batch/a/1', [outcome(3, false), outcome(1_500, false)]); // a retried activity: 3 stays a success
    const seen: Array<StoredMemberOutcome & { seq: number }> = [];
    let cursor = 0;
    for (;;) {
      const page = await store.read('batch/a/1', cursor, 100);
      if (page.length === 0) break;
      seen.push(...page);
      cursor = page[page.length - 1]!.seq;
    }
    expect(seen.map((o) => o.memberIndex)).toEqual(Array.from({ length: 1_501 }, (_, i) => i));
    expect(seen.map((o) => o.seq)).toEqual([...seen.map((o) => o.seq)].sort((a, b) => a - b));
    expect(seen[3]).toMatchObject({ memberId: 'm_3', success: true, durationMs: 3 });
    expect(seen[1_500]).toMatchObject({ memberId: 'm_1500', success: false, errorMessage: 'E1500: failed' });
    expect(seen[1_500]!.durationMs).toBeUndefined();
  });

  it('purge drops only outcomes older than the retention', async () => {
    const store = createPgBatchOutcomeStore(dir.pool);
    await store.record('batch/old/1', [outcome(0), outcome(1)]);
    await dir.pool.query(`UPDATE batch_member_outcomes SET recorded_at = now() - interval '8 days' WHERE batch_id = 'batch/old/1'`);
    await store.record('batch/new/1', [outcome(0)]);
    expect(await store.purge(7 * 24 * 3_600_000)).toBe(2);
    expect(await store.read('batch/old/1', 0, 10)).toEqual([]);
    expect(await store.read('batch/new/1', 0, 10)).toHaveLength(1);
  });
});

/** The member list store: GetBatchStatus reads the ids of a batch's newest errors, scattered over the list, at once. */
describe('PostgreSQL member list store (integration)', () => {
  let dir: TestDirectory;
  beforeAll(async () => {
    dir = await createTestDirectory({ seed: 4, population: 10 });
  });
  afterAll(async () => {
    await dir?.drop();
  });

  it('readAt answers the ids at scattered indexes in one read; an index past the end, or another list, is absent', async () => {
    const lists = createPgMemberListStore(dir.pool);
    const ids = Array.from({ length: 1_200 }, (_, i) => `m_${i}`);
    await lists.write('list-a', 0, ids);
    await lists.write('list-b', 0, ['other_0', 'other_1']);
    const got = await lists.readAt('list-a', [1_150, 3, 0, 999, 5_000]);
    expect([...got.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 'm_0'],
      [3, 'm_3'],
      [999, 'm_999'],
      [1_150, 'm_1150'],
    ]);
    expect(await lists.readAt('list-a', [])).toEqual(new Map());
    expect(await lists.readAt('list-c', [0])).toEqual(new Map());
  });
});
