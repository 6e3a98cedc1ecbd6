import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import type { WarmingIntakeRequest } from '../../lib/warming/types';
import { MemberCronWarmingFeed, type CommitOffset, type FeedRecord } from './member-cron-feed';

const H = 3_600_000;
const EMITTED = Date.parse('2026-01-05T04:00:00Z');

function value(member: string, p: number, windowStart = EMITTED + 15 * H, schedule = 'daily-rte-warmup'): Uint8Array {
  return toBinary(
    MemberCronEventSchema,
    create(MemberCronEventSchema, {
      memberId: member,
      scheduleName: schedule,
      emittedAt: timestampFromMs(EMITTED),
      context: { predictedActivity: { appUsageProbability: p, predictedOperations: ['check_eligibility'], confidence: 0.9, predictedWindowStart: timestampFromMs(windowStart), predictedWindowEnd: timestampFromMs(windowStart + H) } },
    }),
  );
}
const rec = (offset: number, v: Uint8Array, partition = 0): FeedRecord => ({ topic: 't', partition, offset: String(offset), timestampMs: EMITTED, key: null, value: v, headers: {} });

class Harness {
  accepted: WarmingIntakeRequest[] = [];
  commits: CommitOffset[] = [];
  dead: { offset: string; reason: string }[] = [];
  pendingAccepts: { req: WarmingIntakeRequest; resolve: () => void; reject: (e: Error) => void }[] = [];
  manual = false;
  now = 0;
  feed: MemberCronWarmingFeed;
  constructor(maxGroupSize = 4, maxDelayMs = 1000) {
    this.feed = new MemberCronWarmingFeed({
      intake: {
        accept: (req) => {
          if (!this.manual) {
            this.accepted.push(req);
            return Promise.resolve({ jobId: `job-${req.dedupeKey}`, accepted: req.memberIds.length });
          }
          return new Promise((resolve, reject) => {
            this.pendingAccepts.push({
              req,
              resolve: () => {
                this.accepted.push(req);
                resolve({ jobId: 'j', accepted: req.memberIds.length });
              },
              reject,
            });
          });
        },
      },
      routing: { leadScale: 1 },
      maxGroupSize,
      maxDelayMs,
      deadLetter: async (r, reason) => {
        this.dead.push({ offset: r.offset, reason });
      },
      commit: async (offsets) => {
        this.commits.push(...offsets);
      },
      clock: () => this.now,
      acceptRetryInitialMs: 1,
    });
  }
  lastCommit(partition = 0): string | undefined {
    return this.commits.filter((c) => c.partition === partition).at(-1)?.offset;
  }
}

const flushMicrotasks = () => new Promise((r) => setImmediate(r));

describe('MemberCronWarmingFeed', () => {
  it('routes by probability and groups by priority and bucket within an offset block, never one job per event', async () => {
    const h = new Harness(8);
    const values = [value('a', 0.95), value('b', 0.8), value('c', 0.3), value('d', 0.97), value('e', 0.75), value('f', 0.92), value('g', 0.5), value('h', 0.99)];
    for (let i = 0; i < values.length; i++) await h.feed.handle(rec(i, values[i]!));
    // Offset 7 completes block 0: both groups accepted.
    expect(h.accepted.map((r) => [r.priority, r.memberIds])).toEqual([
      ['URGENT', ['a', 'd', 'f', 'h']],
      ['PRELOAD', ['b', 'e']],
    ]);
    for (const r of h.accepted) {
      expect(r.source).toBe('member-cron-daily-rte-warmup');
      expect(r.scheduleName).toBe('daily-rte-warmup');
      expect(r.strategy).toBe('INTELLIGENT');
      expect(r.operations).toEqual(['check_eligibility']);
    }
    expect(h.accepted[0]!.notBeforeMs).toBeGreaterThanOrEqual(EMITTED + 11 * H);
    expect(h.accepted[0]!.notBeforeMs).toBeLessThanOrEqual(EMITTED + 13 * H);
    expect(h.accepted[1]!.notBeforeMs).toBeUndefined(); // PRELOAD of a window within 24 h: batch API now
    expect(h.accepted[0]!.dedupeKey).toMatch(/^t\/0\/0-7\/URGENT\//);
    expect(h.accepted[1]!.dedupeKey).toMatch(/^t\/0\/1-4\/PRELOAD\//);
    expect(h.lastCommit()).toBe('8');
  });

  it('splits members warmed at once by the hour their predicted window ends; each group carries its own horizon', async () => {
    const h = new Harness(8);
    // PRELOAD windows within 24 h: no hold. Two end in the same hour, one 10 h later.
    const starts = [EMITTED + 2 * H, EMITTED + 2 * H + 60_000, EMITTED + 12 * H];
    for (let i = 0; i < starts.length; i++) await h.feed.handle(rec(i, value(`p${i}`, 0.8, starts[i])));
    await h.feed.flushAll();
    const groups = h.accepted.map((r) => [r.memberIds, r.notBeforeMs, r.horizonUntilMs]);
    expect(groups).toEqual([
      [['p0', 'p1'], undefined, EMITTED + 3 * H + 60_000],
      [['p2'], undefined, EMITTED + 13 * H],
    ]);
    expect(new Set(h.accepted.map((r) => r.dedupeKey)).size).toBe(2);
  });

  it('bounds a group by the block size', async () => {
    const h = new Harness(3);
    for (let i = 0; i < 7; i++) await h.feed.handle(rec(i, value(`m${i}`, 0.95)));
    expect(h.accepted.map((r) => r.memberIds.length)).toEqual([3, 3]);
    await h.feed.flushAll();
    expect(h.accepted.map((r) => r.memberIds.length)).toEqual([3, 3, 1]);
    expect(h.lastCommit()).toBe('7');
  });

  it('commits only past records whose group was accepted, and not past an unaccepted one', async () => {
    const h = new Harness(100, 1000);
    h.manual = true;
    await h.feed.handle(rec(0, value('low', 0.1))); // skipped: settled at once
    await h.feed.handle(rec(1, value('a', 0.95)));
    await h.feed.handle(rec(2, value('low2', 0.2)));
    await h.feed.commitSettled();
    expect(h.lastCommit()).toBe('1'); // past the skip only
    h.now = 1000;
    const flushing = h.feed.flushDue();
    await flushMicrotasks();
    expect(h.pendingAccepts).toHaveLength(1);
    expect(h.lastCommit()).toBe('1'); // accept not resolved yet
    h.pendingAccepts[0]!.resolve();
    await flushing;
    expect(h.lastCommit()).toBe('3');
  });

  it('retries a refused accept and commits nothing meanwhile', async () => {
    const h = new Harness(100, 0);
    h.manual = true;
    await h.feed.handle(rec(0, value('a', 0.95)));
    const flushing = h.feed.flushDue();
    await flushMicrotasks();
    h.pendingAccepts[0]!.reject(new Error('postgres down'));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.commits).toEqual([]);
    expect(h.pendingAccepts).toHaveLength(2);
    expect(h.pendingAccepts[1]!.req.dedupeKey).toBe(h.pendingAccepts[0]!.req.dedupeKey);
    h.pendingAccepts[1]!.resolve();
    await flushing;
    expect(h.lastCommit()).toBe('1');
  });

  it('a group the intake refuses for good (RangeError) is dead-lettered record by record and the partition moves on', async () => {
    const h = new Harness(100, 0);
    h.manual = true;
    await h.feed.handle(rec(0, value('a', 0.95)));
    await h.feed.handle(rec(1, value('b', 0.97)));
    const flushing = h.feed.flushDue();
    await flushMicrotasks();
    h.pendingAccepts[0]!.reject(new RangeError('unknown operation x'));
    await flushing;
    expect(h.dead.map((d) => d.offset)).toEqual(['0', '1']);
    expect(h.dead[0]!.reason).toBe('warming intake refused the group: unknown operation x');
    expect(h.pendingAccepts).toHaveLength(1); // not retried
    expect(h.lastCommit()).toBe('2');
  });

  it('does not cut the next block’s group by the delay while the partition waits for a completed block', async () => {
    const h = new Harness(2, 0);
    h.manual = true;
    await h.feed.handle(rec(0, value('a', 0.95)));
    // Offset 2 (1 is absent, e.g. a transaction marker) opens block 1 and completes block 0: handle waits for its accept.
    const waiting = h.feed.handle(rec(2, value('c', 0.95)));
    await flushMicrotasks();
    const blocked = h.feed.flushDue(); // offset 2's group has "waited" 0 ms ≥ maxDelay, but the partition is blocked
    await flushMicrotasks();
    expect(h.pendingAccepts.map((x) => x.req.memberIds)).toEqual([['a']]);
    h.pendingAccepts[0]!.resolve();
    await Promise.all([blocked, waiting]);
    const last = h.feed.handle(rec(3, value('d', 0.95)));
    await flushMicrotasks();
    expect(h.pendingAccepts.map((x) => x.req.memberIds)).toEqual([['a'], ['c', 'd']]);
    h.pendingAccepts[1]!.resolve();
    await last;
    expect(h.lastCommit()).toBe('4');
  });

  it('dead-letters undecodable records with the reason and moves on', async () => {
    const h = new Harness(2);
    await h.feed.handle(rec(0, new TextEncoder().encode('garbage!')));
    await h.feed.handle(rec(1, value('a', 0.95)));
    await h.feed.flushAll();
    expect(h.dead).toHaveLength(1);
    expect(h.dead[0]!.reason).toMatch(/undecodable rte.v1.MemberCronEvent/);
    expect(h.accepted.map((r) => r.memberIds)).toEqual([['a']]);
    expect(h.lastCommit()).toBe('2');
  });

  it('replaying the same records gives the same dedupe keys; re-delivery within a generation is ignored', async () => {
    const values = Array.from({ length: 10 }, (_, i) => value(`m${i}`, i % 2 ? 0.95 : 0.8, EMITTED + (10 + i) * H));
    const run = async () => {
      const h = new Harness(4);
      for (let i = 0; i < values.length; i++) await h.feed.handle(rec(i, values[i]!, i % 2));
      await h.feed.handle(rec(0, values[0]!, 0)); // re-delivered
      await h.feed.flushAll();
      return h.accepted.map((r) => `${r.dedupeKey}:${r.memberIds.join(',')}`).sort();
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(2);
    expect(await run()).toEqual(first);
  });

  it('after a rebalance forgets open groups: nothing of them is committed, re-delivery rebuilds them', async () => {
    const h = new Harness(100, 0);
    h.manual = true;
    await h.feed.handle(rec(0, value('a', 0.95)));
    const flushing = h.feed.flushDue();
    await flushMicrotasks();
    h.feed.revokeAll();
    h.pendingAccepts[0]!.resolve();
    await flushing;
    expect(h.commits).toEqual([]);
    await h.feed.handle(rec(0, value('a', 0.95)));
    expect(h.feed.pendingEvents()).toBe(1);
  });
});
