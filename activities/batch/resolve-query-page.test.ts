import { create, toJson } from '@bufbuild/protobuf';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { silentLogger } from '../../lib/logger';
import { createBatchActivities, queryCursorListRef, type BatchActivityDeps } from './activities';
import { createInMemoryBatchErrorStore, createInMemoryMemberListStore } from './memory-stores';

/**
 * resolveQueryPage keeps the directory's cursor (base64 JSON naming the last member) in PostgreSQL and hands the
 * workflow a reference to it, so no member id enters history through a query batch's paging (issue 13).
 */
const ids = Array.from({ length: 7 }, (_, i) => `m_${String(i + 1).padStart(7, '0')}`);
const cursorAfter = (id: string) => Buffer.from(JSON.stringify({ id })).toString('base64url');

function setup() {
  const lists = createInMemoryMemberListStore();
  const directory = {
    getMemberRecords: async () => new Map(),
    async queryMemberIds(_q: unknown, cursor: string | undefined, limit: number) {
      const from = cursor ? ids.indexOf((JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { id: string }).id) + 1 : 0;
      const page = ids.slice(from, from + limit);
      return { memberIds: page, ...(from + limit < ids.length ? { nextCursor: cursorAfter(page.at(-1)!) } : {}) };
    },
  };
  const acts = createBatchActivities({ lists, errors: createInMemoryBatchErrorStore(), directory, logger: silentLogger() } as unknown as BatchActivityDeps);
  return { acts, lists };
}

const query = toJson(MemberQuerySchema, create(MemberQuerySchema, {}));
const base = { batchId: 'b', listRef: 'b#members', query, pageSize: 3, maxMembers: 100 };

test('pages a query with stored-cursor references: every member once, no cursor (or id) in the results', async () => {
  const { acts, lists } = setup();
  const results = [];
  let cursor: string | undefined;
  let start = 0;
  for (;;) {
    const r = await acts.resolveQueryPage({ ...base, start, ...(cursor ? { cursor } : {}) });
    results.push(r);
    start += r.count;
    if (!r.nextCursor) break;
    cursor = r.nextCursor;
  }
  expect(results).toEqual([
    { count: 3, exceeded: false, nextCursor: 'stored:3' },
    { count: 3, exceeded: false, nextCursor: 'stored:6' },
    { count: 1, exceeded: false },
  ]);
  expect(await lists.read('b#members', 0, 10)).toEqual(ids);
  // A retried page reads the same stored cursor.
  expect(await acts.resolveQueryPage({ ...base, start: 3, cursor: 'stored:3' })).toEqual(results[1]);
  // Released with the list.
  await acts.releaseMemberList({ listRef: 'b#members' });
  expect(lists.size(queryCursorListRef('b#members'))).toBe(0);
});

test('a raw directory cursor (a run from before) is still used as it is', async () => {
  const { acts } = setup();
  const r = await acts.resolveQueryPage({ ...base, start: 3, cursor: cursorAfter(ids[2]!) });
  expect(r).toEqual({ count: 3, exceeded: false, nextCursor: 'stored:6' });
});

test('a stored cursor that is gone fails non-retryably', async () => {
  const { acts } = setup();
  await expect(acts.resolveQueryPage({ ...base, start: 3, cursor: 'stored:3' })).rejects.toThrow('stored query cursor stored:3 is gone');
});
