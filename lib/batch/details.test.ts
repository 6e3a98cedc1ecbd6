import { batchDetails, batchSummary, clock, type BatchDetailsInput } from './details';
import { emptyCounters } from './types';

const NOW = Date.parse('2026-12-02T01:00:00Z');
const counters = { ...emptyCounters(1000), completed: 409, failed: 3 };
const base: BatchDetailsInput = { status: 'RUNNING', counters, totalKnown: true, path: 'REALTIME', maxConcurrentRequests: 15, window: 'LOW_UTILIZATION', chunksInFlight: 0 };

describe('batch details (Temporal Web UI current details)', () => {
  it.each<[string, Partial<BatchDetailsInput>, string]>([
    ['running real-time with an ETA', { estimatedCompletionMs: Date.parse('2026-12-02T04:31:00Z') }, '412 / 1,000 done · 3 failed · real-time, 15 slots · ETA 04:31 UTC'],
    ['running on the Stedi batch API', { path: 'BATCH_API', chunksInFlight: 2 }, '412 / 1,000 done · 3 failed · Stedi batch API, 2 chunks in flight'],
    ['waiting for the window after starting', { status: 'WAITING', waitingUntilMs: Date.parse('2026-12-02T02:07:00Z') }, '412 / 1,000 done · 3 failed · waiting for LOW_UTILIZATION window until 02:07 UTC'],
    ['paused', { status: 'PAUSED' }, 'paused · 412 / 1,000 done · 3 failed · resume with signal resumeBatch'],
    ['paused by someone', { status: 'PAUSED', pausedBy: 'svc-ops' }, 'paused by svc-ops · 412 / 1,000 done · 3 failed · resume with signal resumeBatch'],
    ['pending, waiting for its first window tomorrow', { status: 'PENDING', counters: emptyCounters(1000), waitingUntilMs: Date.parse('2026-12-03T02:07:00Z') }, 'waiting for LOW_UTILIZATION window until 2026-12-03 02:07 UTC · 1,000 members'],
    ['resolving a member query', { status: 'PENDING', totalKnown: false, counters: emptyCounters(250) }, 'resolving member query · 250 members so far'],
    ['cancelled, with why', { status: 'CANCELLED', counters: { ...counters, cancelled: 588 }, failure: { code: 'CANCELLED', message: 'stop' } }, 'CANCELLED · 412 / 1,000 done · 3 failed · 588 cancelled · CANCELLED: stop'],
  ])('%s', (_what, patch, expected) => {
    expect(batchDetails({ ...base, ...patch }, NOW)).toBe(expected);
  });

  it('a paused batch tells API clients ResumeBatch / rtectl, operators (Web UI) the signal (probe p16 #11i)', () => {
    const paused = { ...base, status: 'PAUSED' as const, pausedBy: 'svc-ops' };
    expect(batchDetails(paused, NOW, 'client')).toBe('paused by svc-ops · 412 / 1,000 done · 3 failed · resume with ResumeBatch (rtectl batch resume)');
    expect(batchDetails(paused, NOW, 'operator')).toBe('paused by svc-ops · 412 / 1,000 done · 3 failed · resume with signal resumeBatch');
  });

  it('clock shows the date only when it is not today', () => {
    expect(clock(NOW + 60_000, NOW)).toBe('01:01 UTC');
    expect(clock(NOW + 86_400_000, NOW)).toBe('2026-12-03 01:00 UTC');
  });

  it('summary names the batch, its size and how it runs', () => {
    expect(batchSummary({ clientService: 'medication-service', clientJobId: 'nightly-1', totalMembers: 1000, strategy: 'REALTIME_ONLY', priority: 'NORMAL', window: 'ANY' })).toBe(
      'Batch medication-service/nightly-1 · 1,000 members · realtime only, NORMAL priority, ANY window',
    );
  });
});
