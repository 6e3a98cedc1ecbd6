/**
 * The refresh activity under faults (Temporal's MockActivityEnvironment, the real gateway against an in-process
 * Stedi simulator, in-memory slot pool and cache fakes): a 429 spends no attempt, infrastructure errors are retried
 * inside the attempt and never surface a library class name, and a retried attempt reuses a stored answer.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ErrorType } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { createFixtureMemberSource, syntheticMembers } from '../../lib/member-fixtures';
import { verdictFor } from '../../stedi-sim/answers';
import { createStediSim, type StediSim } from '../../stedi-sim/server';
import type { CachePutInput, EligibilityCacheEntry } from '../cache';
import type { AcquireOptions, SlotLease, SlotPool, SlotRequest } from '../slot-pool';
import { createHttpStediGateway } from '../stedi/gateway';
import type { EligibilityRefreshResult } from '../../workflows/eligibility-refresh.defs';
import { createEligibilityActivities, hedgeLosersSettled, type EligibilityActivityDeps } from './activities';
import { createMemoryHedgeBudget } from './hedge-budget';
import { DEFAULT_HEDGE_CONFIG } from './hedge-policy';
import { chunkPorts } from './realtime-chunk';
import { createInMemoryMemberListStore } from '../batch/memory-stores';
import type { MemberListStore } from '../batch/ports';

const members = syntheticMembers(5);
const member = members[0]!;

function fakeSlots(): SlotPool & { throttledReports: number; acquired: number; aheadRequests: number } {
  const lease: SlotLease = { id: 'l', queue: 'interactive', kind: 'interactive', signal: new AbortController().signal, release: async () => undefined };
  const pool = {
    throttledReports: 0,
    acquired: 0,
    aheadRequests: 0,
    acquire: async () => lease,
    async withSlot<T>(_r: unknown, fn: (l: SlotLease) => Promise<T>, options?: AcquireOptions): Promise<T> {
      pool.acquired += 1;
      if (options?.ahead) pool.aheadRequests += 1;
      return fn(lease);
    },
    stats: async () => ({ limit: 15, interactiveInUse: 0, batchInUse: 0, waiting: {} }),
    close: async () => undefined,
    async reportThrottled() {
      pool.throttledReports += 1;
    },
  };
  return pool;
}

function memoryCache(failPuts = 0, error: () => Error = outage) {
  const entries = new Map<string, EligibilityCacheEntry>();
  let failures = failPuts;
  return {
    entries,
    get: async (memberId: string, operation: string) => entries.get(`${memberId}:${operation}`) ?? null,
    put: async (p: CachePutInput) => {
      if (failures-- > 0) throw error();
      const entry: EligibilityCacheEntry = {
        summary: p.summary,
        fetchedAt: p.fetchedAt,
        expiresAt: p.fetchedAt + 1000,
        source: p.source,
        outcome: p.outcome,
        ...(p.stediCheckId ? { stediCheckId: p.stediCheckId } : {}),
      };
      entries.set(`${p.memberId}:${p.operation}`, entry);
      return { written: true as const, entry };
    },
  };
}

function outage(): Error {
  const e = new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.');
  e.name = 'MaxRetriesPerRequestError';
  return e;
}

let sim: StediSim;
let url = '';
beforeEach(async () => {
  sim = createStediSim({ timeScale: 0, logger: silentLogger() });
  ({ url } = await sim.start(0));
});
afterEach(() => sim.stop());

function activities(cache = memoryCache(), slots = fakeSlots(), lists?: MemberListStore) {
  return createEligibilityActivities({
    ...(lists ? { lists } : {}),
    members: createFixtureMemberSource(members),
    stedi: createHttpStediGateway({ baseUrl: url, apiKey: 'k', timeoutMs: 5_000 }),
    slots,
    cache,
    provider: { npi: '1999999984', organizationName: 'Included Health' },
    memberHashSecret: 's',
    logger: silentLogger(),
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
  });
}

const input = { memberId: member.memberId, operation: 'coverage', requester: { kind: 'interactive' as const }, source: 'realtime' as const };
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const env = (info: Record<string, unknown> = {}) =>
  new MockActivityEnvironment(
    { attempt: 1, startToCloseTimeoutMs: 600_000, currentAttemptScheduledTimestampMs: Date.now(), scheduledTimestampMs: Date.now(), ...info },
    { logger: quiet },
  );

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('refreshEligibility under faults', () => {
  it('a 429 storm spends no attempt: the slot goes back, the pool hears of it, the check runs after Retry-After', async () => {
    const slots = fakeSlots();
    const acts = activities(memoryCache(), slots);
    sim.setFaults({ throttle429: { count: 4, retryAfterSeconds: 1 } });
    const r = (await env().run(acts.refreshEligibility, input)) as EligibilityRefreshResult;
    expect(['success', 'error']).toContain(r.outcome);
    expect(slots.throttledReports).toBe(4);
    expect(slots.acquired).toBe(5);
    expect(sim.stats().throttledInjected).toBe(4);
  });

  it('a slot lease lost mid-call, or the activity cancelled mid-call, stops the Stedi call at once (a hung payer is not waited for)', async () => {
    sim.setFaults({ slowPayer: { payerId: member.payerId, hang: true } });
    const inFlight = async (n: number): Promise<void> => {
      for (let i = 0; i < 400 && sim.stats().inFlight.current !== n; i++) await new Promise((r) => setTimeout(r, 5));
      expect(sim.stats().inFlight.current).toBe(n);
    };
    const lost = new AbortController();
    const base = fakeSlots();
    const slots = { ...base, withSlot: <T>(_r: unknown, fn: (l: SlotLease) => Promise<T>) => fn({ id: 'l', queue: 'interactive', kind: 'interactive', signal: lost.signal, release: async () => undefined }) };
    const leaseRun = env().run(activities(memoryCache(), slots).refreshEligibility, input);
    await inFlight(1);
    lost.abort(new Error('slot lease lost'));
    const leaseErr = await failureOf(leaseRun);
    expect(leaseErr.message).toMatch(/slot lease lost/);

    const cancelEnv = env();
    const cancelRun = cancelEnv.run(activities().refreshEligibility, input).then(
      () => 'answered',
      (err: unknown) => (err instanceof Error ? err.name : String(err)),
    );
    await inFlight(2);
    cancelEnv.cancel();
    await expect(cancelRun).resolves.toBe('CancelledFailure');
  });

  it('gives a 429 up to Temporal only when the attempt has no time left for another call', async () => {
    const acts = activities();
    sim.setFaults({ throttle429: { forMs: 60_000 } });
    // An attempt scheduled long ago: its budget is spent.
    const err = await failureOf(env({ currentAttemptScheduledTimestampMs: Date.now() - 550_000 }).run(acts.refreshEligibility, input));
    expect(err.type).toBe(ErrorType.StediThrottled);
    expect(err.nonRetryable).toBe(false);
  });

  it('retries a Redis outage on the cache write without calling Stedi again', async () => {
    const cache = memoryCache(3);
    const r = (await env().run(activities(cache).refreshEligibility, input)) as EligibilityRefreshResult;
    expect(r.fetchedAt).toBeGreaterThan(0);
    expect(cache.entries.size).toBe(1);
    expect(sim.stats().calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3']).toEqual({ '200': 1 });
  });

  it('an outage longer than the attempt is reported as InfrastructureUnavailableError, never the client library class name', async () => {
    const cache = memoryCache(1_000_000);
    const err = await failureOf(env({ currentAttemptScheduledTimestampMs: Date.now() - 499_000 }).run(activities(cache).refreshEligibility, input));
    expect(err.type).toBe(ErrorType.InfrastructureUnavailable);
    expect(err.nonRetryable).toBe(false);
    const bug = await failureOf(env().run(activities(memoryCache(1, () => new TypeError('x is undefined'))).refreshEligibility, input));
    expect(bug.type).toBe(ErrorType.Internal);
  });

  it('a retried attempt reuses the answer its earlier attempt stored (check id and time) instead of calling Stedi', async () => {
    const cache = memoryCache();
    const scheduled = Date.now() - 60_000;
    const first = await env({ scheduledTimestampMs: scheduled }).run(activities(cache).refreshEligibility, input);
    // The worker could not report the completion (e.g. Temporal was down): Temporal retries the activity.
    const retried = (await env({ attempt: 2, scheduledTimestampMs: scheduled }).run(activities(cache).refreshEligibility, input)) as EligibilityRefreshResult;
    expect(retried).toEqual(first);
    expect(retried.stediCheckId).toMatch(/^ec_/);
    expect(sim.stats().calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3']).toEqual({ '200': 1 });
    // An entry older than the activity's first schedule is not reused: a real refresh happens.
    await env({ attempt: 2, scheduledTimestampMs: Date.now() + 1 }).run(activities(cache).refreshEligibility, input);
    expect(sim.stats().calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3']).toEqual({ '200': 2 });
  });
});

describe('refreshEligibility retries at the slot pool (issue 14, finite-batch tail)', () => {
  it('a retried attempt waits ahead of its queue; a first attempt does not', async () => {
    sim.setFaults({ failingPayer: { payerId: member.payerId, failFirst: 1 } });
    const slots = fakeSlots();
    const acts = activities(memoryCache(), slots);
    const err = await failureOf(env().run(acts.refreshEligibility, input));
    expect(err.type).toBe(ErrorType.StediPayerUnavailable);
    expect(err.nonRetryable).toBe(false);
    expect(slots.aheadRequests).toBe(0);
    const r = (await env({ attempt: 2 }).run(acts.refreshEligibility, input)) as EligibilityRefreshResult;
    expect(['success', 'error']).toContain(r.outcome);
    expect(slots.acquired).toBe(2);
    expect(slots.aheadRequests).toBe(1);
  });
});

describe('refreshEligibility for a batch member given by reference (issue 13: no member id in batch histories)', () => {
  const ref = { operation: 'coverage', requester: { kind: 'batch' as const, clientService: 'svc', priority: 'HIGH' as const }, source: 'batch' as const };

  it('reads the member id from the batch list by index and refreshes that member', async () => {
    const lists = createInMemoryMemberListStore();
    await lists.write('b1#members', 0, [members[1]!.memberId, member.memberId]);
    const cache = memoryCache();
    const r: EligibilityRefreshResult = await env().run(activities(cache, fakeSlots(), lists).refreshEligibility, { ...ref, batchMember: { batchId: 'b1', index: 1, listRef: 'b1#members' } });
    expect(r.outcome).toBe('success');
    expect([...cache.entries.keys()]).toEqual([`${member.memberId}:coverage`]);
  });

  it('an index the list does not hold fails non-retryably, naming the index; no Stedi call', async () => {
    const lists = createInMemoryMemberListStore();
    const slots = fakeSlots();
    const f = await failureOf(env().run(activities(memoryCache(), slots, lists).refreshEligibility, { ...ref, batchMember: { batchId: 'b1', index: 7, listRef: 'b1#members' } }));
    expect(f.type).toBe(ErrorType.BatchMemberListIncomplete);
    expect(f.message).toContain('at 7');
    expect(f.nonRetryable).toBe(true);
    expect(slots.acquired).toBe(0);
  });

  it('an input with neither memberId nor a list reference is refused', async () => {
    const f = await failureOf(env().run(activities().refreshEligibility, { ...ref, batchMember: { batchId: 'b1', index: 0 } }));
    expect(f.type).toBe(ErrorType.InvalidArgument);
    expect(f.nonRetryable).toBe(true);
  });
});

describe('refreshEligibility hedging a straggler (issue 14; policy in hedge-policy.ts)', () => {
  const batchInput = {
    memberId: member.memberId,
    operation: 'coverage',
    requester: { kind: 'batch' as const, clientService: 'svc', priority: 'HIGH' as const },
    source: 'batch' as const,
    batchMember: { batchId: 'b1', index: 0 },
  };
  const config = { ...DEFAULT_HEDGE_CONFIG, enabled: true, minMs: 0, minSamples: 3, window: 10, checkEveryMs: 20, maxFraction: 0.5 };

  /** A pool that counts the slots held (a slot is held until the call under it returns). */
  function countingSlots(waiting = 0) {
    const lease: SlotLease = { id: 'l', queue: 'batch:svc:HIGH', kind: 'batch', signal: new AbortController().signal, release: async () => undefined };
    const pool = {
      held: 0,
      peak: 0,
      acquire: async () => lease,
      async withSlot<T>(_r: unknown, fn: (l: SlotLease) => Promise<T>): Promise<T> {
        pool.held += 1;
        pool.peak = Math.max(pool.peak, pool.held);
        try {
          return await fn(lease);
        } finally {
          pool.held -= 1;
        }
      },
      stats: async () => ({ limit: 15, interactiveInUse: 0, batchInUse: pool.held, waiting: (waiting > 0 ? { 'batch:svc:HIGH': waiting } : {}) as Record<string, number> }),
      close: async () => undefined,
    };
    return pool;
  }

  async function setup(waiting = 0) {
    // 10 ms calls; the member's first call on its payer after the fault takes 2 s more (a straggler).
    const slowSim = createStediSim({ timeScale: 0.01, latency: { meanMs: 1_000, sigma: 0 }, logger: silentLogger() });
    const { url: slowUrl } = await slowSim.start(0);
    const slots = countingSlots(waiting);
    const budget = createMemoryHedgeBudget();
    const events: string[] = [];
    const deps: EligibilityActivityDeps = {
      members: createFixtureMemberSource(members),
      stedi: createHttpStediGateway({ baseUrl: slowUrl, apiKey: 'k', timeoutMs: 30_000 }),
      slots,
      cache: memoryCache(),
      provider: { npi: '1999999984', organizationName: 'Included Health' },
      memberHashSecret: 's',
      logger: silentLogger(),
      hedge: { config, budget, batches: { read: async () => ({ completed: 9, failed: 0, listed: 10 }) }, metrics: { onHedge: (e) => events.push(e) } },
    };
    const acts = createEligibilityActivities(deps);
    // Three observed latencies (interactive refreshes never hedge) make the threshold.
    for (let i = 0; i < 3; i++) await env().run(acts.refreshEligibility, input);
    slowSim.setFaults({ slowPayer: { payerId: member.payerId, extraLatencyMs: 200_000, slowFirst: 1 } });
    return { slowSim, slots, budget, events, acts, deps };
  }

  it('the last member, in flight long past the threshold on an idle pool, gets one duplicate: it answers first, counted once, the original keeps its slot until Stedi answers', async () => {
    const { slowSim, slots, budget, events, acts } = await setup();
    try {
      const r: EligibilityRefreshResult = await env().run(acts.refreshEligibility, batchInput);
      expect(r).toMatchObject({ outcome: 'success', stediCalls: 2 });
      expect(events).toEqual(['started', 'won']);
      expect(budget.taken('b1')).toBe(1);
      // The original is still at Stedi and still holds its slot: never more slots than calls at Stedi.
      expect(slots.held).toBe(1);
      expect(slowSim.stats().inFlight.current).toBe(1);
      expect(slots.peak).toBe(2);
      // Its slot goes back when Stedi answers it; its answer is dropped (the cache holds the duplicate's).
      const deadline = Date.now() + 10_000;
      while (slots.held > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(slots.held).toBe(0);
      expect(slowSim.calls().map((c) => c.latencyMs >= 2_000)).toEqual([false, false, false, false, true]);
    } finally {
      await slowSim.stop();
    }
  }, 20_000);

  it('a member run inside a real-time chunk is hedged on the latencies the worker observed before the chunk (one window per worker, not per chunk)', async () => {
    const { slowSim, slots, budget, events, deps } = await setup();
    try {
      // A chunk builds its own activity set over its shared ports (realtime-chunk.ts); it has observed no latency.
      const chunk = createEligibilityActivities(await chunkPorts(deps, [member.memberId], silentLogger()));
      const r: EligibilityRefreshResult = await env().run(chunk.refreshEligibility, batchInput);
      expect(r).toMatchObject({ outcome: 'success', stediCalls: 2 });
      expect(events).toEqual(['started', 'won']);
      expect(budget.taken('b1')).toBe(1);
      const deadline = Date.now() + 10_000;
      while (slots.held > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(slots.peak).toBe(2);
    } finally {
      await slowSim.stop();
    }
  }, 20_000);

  it('a worker shutting down can wait for a hedge loser: its slot goes back only when Stedi answered it', async () => {
    const { slowSim, slots, deps, acts } = await setup();
    try {
      const r: EligibilityRefreshResult = await env().run(acts.refreshEligibility, batchInput);
      expect(r).toMatchObject({ stediCalls: 2 });
      // Not waited for: one loser still at Stedi, holding its slot.
      expect(await hedgeLosersSettled(deps.hedge, 0)).toBe(1);
      expect(slots.held).toBe(1);
      // Waited for (what workers/main.ts does before closing the pool): answered, its slot back, nothing left.
      expect(await hedgeLosersSettled(deps.hedge, 10_000)).toBe(0);
      expect(slots.held).toBe(0);
      expect(slowSim.stats().inFlight.current).toBe(0);
      expect(await hedgeLosersSettled(undefined, 0)).toBe(0);
    } finally {
      await slowSim.stop();
    }
  }, 20_000);

  it('never hedges while someone waits for a slot: the member waits for its own slow answer', async () => {
    const { slowSim, slots, budget, events, acts } = await setup(1);
    try {
      const r: EligibilityRefreshResult = await env().run(acts.refreshEligibility, batchInput);
      expect(r).toMatchObject({ outcome: 'success', stediCalls: 1 });
      expect(events).toEqual([]);
      expect(budget.taken('b1')).toBe(0);
      expect(slots.peak).toBe(1);
      expect(slowSim.calls().at(-1)!.latencyMs).toBeGreaterThanOrEqual(2_000);
    } finally {
      await slowSim.stop();
    }
  }, 30_000);
});

describe('refreshEligibility for a warming job: failure reasons group by cause (GetWarmingJob failure_reasons)', () => {
  const warming = { operation: 'coverage', requester: { kind: 'warming' as const, jobId: 'warming/s/api-1', priority: 'URGENT' as const }, source: 'warming' as const };

  it('an unknown member fails with the same text for every member (no per-member hash), non-retryably, without a Stedi call', async () => {
    const slots = fakeSlots();
    const a = await failureOf(env().run(activities(memoryCache(), slots).refreshEligibility, { ...warming, memberId: 'zz_unknown_1' }));
    const b = await failureOf(env().run(activities(memoryCache(), slots).refreshEligibility, { ...warming, memberId: 'zz_unknown_2' }));
    expect([a.type, a.message, a.nonRetryable]).toEqual([ErrorType.MemberNotFound, 'member is not in the directory', true]);
    expect(b.message).toBe(a.message);
    expect(slots.acquired).toBe(0);
  });

  it('a directory record that cannot form a Stedi request fails INVALID_MEMBER_RECORD naming the field, non-retryably, without a Stedi call', async () => {
    const slots = fakeSlots();
    const broken = { ...members[1]!, dateOfBirth: '1980/13' };
    const acts = createEligibilityActivities({
      members: createFixtureMemberSource([broken]),
      stedi: createHttpStediGateway({ baseUrl: url, apiKey: 'k', timeoutMs: 5_000 }),
      slots,
      cache: memoryCache(),
      provider: { npi: '1999999984', organizationName: 'Included Health' },
      memberHashSecret: 's',
      logger: silentLogger(),
    });
    const f = await failureOf(env().run(acts.refreshEligibility, { ...warming, memberId: broken.memberId }));
    expect([f.type, f.message, f.nonRetryable]).toEqual([ErrorType.InvalidMemberRecord, 'member record: date_of_birth must be YYYY-MM-DD', true]);
    expect(slots.acquired).toBe(0);
    expect(sim.calls()).toHaveLength(0);
  });

  it('a payer error records the AAA code and its description as the warm\'s reason', async () => {
    const pool = syntheticMembers(400);
    const withError = pool.find((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode === '75');
    if (!withError) throw new Error('no synthetic member answers AAA 75');
    const completed: Array<{ outcome: string; reason?: string }> = [];
    const acts = createEligibilityActivities({
      members: createFixtureMemberSource(pool),
      stedi: createHttpStediGateway({ baseUrl: url, apiKey: 'k', timeoutMs: 5_000 }),
      slots: fakeSlots(),
      cache: memoryCache(),
      provider: { npi: '1999999984', organizationName: 'Included Health' },
      memberHashSecret: 's',
      logger: silentLogger(),
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
      warms: {
        complete: async (_jobId, rows) => {
          completed.push(...rows);
          return [...rows];
        },
      },
    });
    const r: EligibilityRefreshResult = await env().run(acts.refreshEligibility, { ...warming, memberId: withError.memberId });
    expect(completed).toEqual([expect.objectContaining({ outcome: 'failed', reason: 'PAYER_ERROR: AAA 75 Subscriber/Insured Not Found' })]);
    // The result says it too, for a batch member's error message (the Stedi batch-API path's AAA_75 carries it).
    expect(r).toMatchObject({ outcome: 'error', payerError: 'AAA 75 Subscriber/Insured Not Found' });
  });
});

describe('a background revalidation joined by a live check moves to the interactive slot class (review13 #5)', () => {
  /** Batch-class requests wait until aborted (a pool full of batch work), or give up after `batchWaitMs`; interactive ones are granted. */
  function busyBatchSlots(batchWaitMs = 2_000) {
    const asked: string[] = [];
    const lease = (kind: 'interactive' | 'batch'): SlotLease => ({ id: kind, queue: kind, kind, signal: new AbortController().signal, release: async () => undefined });
    const pool = {
      asked,
      acquire: async () => lease('interactive'),
      async withSlot<T>(r: SlotRequest, fn: (l: SlotLease) => Promise<T>, options?: AcquireOptions): Promise<T> {
        asked.push(r.kind);
        if (r.kind === 'interactive') return fn(lease('interactive'));
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => resolve(), batchWaitMs);
          options?.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(options.signal!.reason);
          });
        });
        return fn(lease('batch'));
      },
      stats: async () => ({ limit: 15, interactiveInUse: 0, batchInUse: 15, waiting: {} }),
      close: async () => undefined,
    };
    return pool;
  }
  const revalidate = { ...input, requester: { kind: 'batch' as const, clientService: 'rte-revalidate', priority: 'HIGH' as const } };

  it('the waiting batch request is withdrawn and the slot asked for in the interactive class once the mark is set', async () => {
    const slots = busyBatchSlots();
    let promoted = false;
    const cache = Object.assign(memoryCache(), { isRefreshPromoted: async () => promoted });
    const acts = activities(cache, slots as unknown as ReturnType<typeof fakeSlots>);
    const started = Date.now();
    setTimeout(() => (promoted = true), 300);
    const r = (await env().run(acts.refreshEligibility, revalidate)) as EligibilityRefreshResult;
    expect(r.outcome).toBe('success');
    expect(slots.asked).toEqual(['batch', 'interactive']);
    // Moved within a poll or two of the mark, long before the batch class would have granted (2 s).
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(sim.stats().calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3']).toBeDefined();
  });

  it('marked before it asks: interactive at once; never marked: it keeps the batch class; other batch refreshes never read the mark', async () => {
    const marked = busyBatchSlots();
    await env().run(activities(Object.assign(memoryCache(), { isRefreshPromoted: async () => true }), marked as unknown as ReturnType<typeof fakeSlots>).refreshEligibility, revalidate);
    expect(marked.asked).toEqual(['interactive']);

    const unmarked = busyBatchSlots(100);
    await env().run(activities(Object.assign(memoryCache(), { isRefreshPromoted: async () => false }), unmarked as unknown as ReturnType<typeof fakeSlots>).refreshEligibility, revalidate);
    expect(unmarked.asked).toEqual(['batch']);

    let reads = 0;
    const other = busyBatchSlots(100);
    const batchRefresh = { ...input, requester: { kind: 'batch' as const, clientService: 'svc', priority: 'HIGH' as const } };
    await env().run(activities(Object.assign(memoryCache(), { isRefreshPromoted: async () => (reads++, true) }), other as unknown as ReturnType<typeof fakeSlots>).refreshEligibility, batchRefresh);
    expect([other.asked, reads]).toEqual([['batch'], 0]);
  });
});
