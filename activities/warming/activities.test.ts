/**
 * publishWarmingEvent (CacheWarmingEvent on Kafka) with fakes: a FAILED job says why in error_message (its own
 * failure, else GetWarmingJob's words from its warm records), and a member-cron job names its schedule.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { CacheWarmingEvent_EventType, CacheWarmingEventSchema, type CacheWarmingEvent } from '../../gen/rte/v1/events_pb';
import { silentLogger } from '../../lib/logger';
import type { OutgoingEvent } from '../kafka/types';
import { createWarmingActivities, type WarmingEventInput } from './activities';
import type { WarmJobDurableState, WarmJobReader } from './ports';

const jobState: WarmJobDurableState = {
  jobId: 'warming/member-cron-daily-rte-warmup/i-1',
  source: 'member-cron-daily-rte-warmup',
  priority: 'URGENT',
  strategy: 'INTELLIGENT',
  status: 'FAILED',
  createdAtMs: 0,
  updatedAtMs: 0,
  counts: { pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 3, cancelled: 0 },
  membersSkipped: 0,
  failureReasons: [
    { reason: 'PAYER_ERROR: AAA 75 Subscriber/Insured Not Found', count: 2 },
    { reason: 'MemberNotFoundError: member is not in the directory', count: 1 },
  ],
};

function harness(jobs?: WarmJobReader) {
  const published: OutgoingEvent[] = [];
  const acts = createWarmingActivities({
    lists: {} as never,
    errors: {} as never,
    cache: {} as never,
    warms: {} as never,
    events: { publish: async (e) => void published.push(...e), close: async () => undefined },
    hash: (m) => m,
    ...(jobs ? { jobs } : {}),
    logger: silentLogger(),
  });
  const last = (): CacheWarmingEvent => fromBinary(CacheWarmingEventSchema, published.at(-1)!.value);
  return { acts, last };
}

const event = (extra: Partial<WarmingEventInput> = {}): WarmingEventInput => ({
  topic: 't',
  eventId: 'warming/member-cron-daily-rte-warmup/i-1#FAILED',
  eventType: 'FAILED',
  jobId: 'warming/member-cron-daily-rte-warmup/i-1',
  source: 'member-cron-daily-rte-warmup',
  strategy: 'INTELLIGENT',
  priority: 'URGENT',
  operations: ['check_eligibility'],
  membersRequested: 3,
  membersWarmed: 0,
  membersSkipped: 0,
  membersFailed: 3,
  occurredAtMs: 1_000,
  ...extra,
});

describe('publishWarmingEvent', () => {
  it('a job FAILED because its warms failed says why, as GetWarmingJob: counts and the most common reason', async () => {
    const reads: string[] = [];
    const h = harness({ read: async (id) => (reads.push(id), jobState) });
    await h.acts.publishWarmingEvent(event({ scheduleName: 'daily-rte-warmup' }));
    expect(h.last()).toMatchObject({
      eventType: CacheWarmingEvent_EventType.FAILED,
      errorMessage: '3 failed of 3 warms; most common: PAYER_ERROR: AAA 75 Subscriber/Insured Not Found (2)',
      scheduleName: 'daily-rte-warmup',
    });
    expect(reads).toEqual(['warming/member-cron-daily-rte-warmup/i-1']);
  });

  it('a job that failed as a whole keeps its own failure; a COMPLETED event reads nothing', async () => {
    const reads: string[] = [];
    const h = harness({ read: async (id) => (reads.push(id), jobState) });
    await h.acts.publishWarmingEvent(event({ errorMessage: 'MemberLimitExceeded: 2,000,000 members' }));
    expect(h.last().errorMessage).toBe('MemberLimitExceeded: 2,000,000 members');
    await h.acts.publishWarmingEvent(event({ eventType: 'COMPLETED', membersFailed: 0, membersWarmed: 3 }));
    expect(h.last().errorMessage).toBe('');
    expect(reads).toEqual([]);
  });

  it('a cancelled job is published as CANCELLED with its reason and the warms it left undone (never COMPLETED)', async () => {
    const h = harness({ read: async () => jobState });
    await h.acts.publishWarmingEvent(event({ eventType: 'CANCELLED', membersFailed: 0, membersWarmed: 1, membersCancelled: 2, errorMessage: 'cancelled: wrong list' }));
    expect(h.last()).toMatchObject({ eventType: CacheWarmingEvent_EventType.CANCELLED, errorMessage: 'cancelled: wrong list', membersWarmed: 1, membersCancelled: 2 });
  });

  it('when the record cannot be read the FAILED event still goes out, saying no warm succeeded', async () => {
    const h = harness({ read: async () => Promise.reject(new Error('pg down')) });
    await h.acts.publishWarmingEvent(event());
    expect(h.last().errorMessage).toBe('no warm succeeded');
  });
});
