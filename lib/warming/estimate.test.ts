import { estimateWarmCompletionMs } from './estimate';

const NOW = Date.UTC(2026, 11, 2, 15, 0, 0); // 10:00 in New York

describe('estimateWarmCompletionMs', () => {
  it('real-time: entries × 13.5 s ÷ free slots', () => {
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'URGENT', realtime: 100, batchApi: 0, freeSlots: 10 })).toBe(NOW + 135_000);
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'URGENT', realtime: 10, batchApi: 0, freeSlots: 0 })).toBe(NOW + 135_000);
  });
  it('batch API: the batch latency estimate', () => {
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 0, batchApi: 500, batchLatencyMs: 60_000 })).toBe(NOW + 60_000);
  });
  it('BACKGROUND batch work waits for the low-utilisation window (02:00 New York)', () => {
    const at = estimateWarmCompletionMs({ nowMs: NOW, priority: 'BACKGROUND', realtime: 0, batchApi: 5, batchLatencyMs: 60_000 });
    expect(at).toBe(Date.UTC(2026, 11, 3, 7, 0, 0) + 60_000);
  });
  it('BACKGROUND batch work starts when its children submit in their members’ window, not New York’s', () => {
    // Los Angeles members: their 02:00 + spread is 10:22Z, hours after New York's 02:00 (07:00Z).
    const submitsAt = Date.UTC(2026, 11, 3, 10, 22, 30);
    const at = estimateWarmCompletionMs({ nowMs: NOW, priority: 'BACKGROUND', realtime: 0, batchApi: 5, batchLatencyMs: 60_000, batchApiStartsAtMs: submitsAt });
    expect(at).toBe(submitsAt + 60_000);
    // Only BACKGROUND batch work waits for the window.
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 0, batchApi: 5, batchLatencyMs: 60_000, batchApiStartsAtMs: submitsAt })).toBe(NOW + 60_000);
  });
  it('non-URGENT real-time warms deferred by slot load count from when the load rule lets them start', () => {
    const deferredTo = Date.UTC(2026, 11, 3, 7, 30, 0);
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 10, batchApi: 0, freeSlots: 10, realtimeDeferredUntilMs: deferredTo })).toBe(deferredTo + 13_500);
    // A deferral already over (or none) changes nothing; batch-API work is not deferred by slot load.
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 10, batchApi: 0, freeSlots: 10, realtimeDeferredUntilMs: NOW - 1 })).toBe(NOW + 13_500);
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 0, batchApi: 5, batchLatencyMs: 60_000, realtimeDeferredUntilMs: deferredTo })).toBe(NOW + 60_000);
  });
  it('nothing to fetch: now (or the hold)', () => {
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 0, batchApi: 0 })).toBe(NOW);
    expect(estimateWarmCompletionMs({ nowMs: NOW, priority: 'PRELOAD', realtime: 0, batchApi: 0, notBeforeMs: NOW + 5 })).toBe(NOW + 5);
  });
});
