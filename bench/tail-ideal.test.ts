import { greedyMakespan, idealMakespan, lptMakespan, randomOrderGreedy, splitHedges, tailBreakdown, type RecordedCall } from './tail-ideal';

let seq = 0;
function call(member: string, latencyMs: number, startedAtMs = seq++, endedAtMs = startedAtMs + latencyMs): RecordedCall {
  return { member, latencyMs, startedAtMs, endedAtMs, status: 200 };
}

describe('ideal makespan of recorded calls', () => {
  it('splitHedges: a call that started while the same member was still at Stedi is a hedge; a retry after the answer is not', () => {
    const original = call('a', 30_000, 0);
    const hedge = call('a', 8_000, 25_000);
    const retryOfB = call('b', 5_000, 12_000);
    const failedB = call('b', 10_000, 1_000);
    const { originals, hedges } = splitHedges([hedge, retryOfB, original, failedB]);
    expect(hedges).toEqual([hedge]);
    expect(originals).toEqual([original, failedB, retryOfB]);
    // The ideal counts the original's 30 s, not the hedge's shorter answer nor both.
    expect(idealMakespan(originals, 15).longestChainMs).toBe(30_000);
  });

  it('LPT puts the longest jobs first', () => {
    // 2 slots: LPT gives {7}, {5,3} (not the 8 a first-come order 3,5,7 gives).
    expect(lptMakespan([3, 5, 7], 2)).toBe(8);
    expect(greedyMakespan([call('a', 3), call('b', 5), call('c', 7)], 2)).toBe(10);
    expect(lptMakespan([], 15)).toBe(0);
    expect(() => lptMakespan([1], 0)).toThrow(RangeError);
  });

  it("a member's retry is part of its chain: the chain can exceed Σ ÷ slots", () => {
    const calls = [call('a', 10), call('b', 1), call('c', 1), call('a', 10, 100)];
    const ideal = idealMakespan(calls, 3);
    expect(ideal.calls).toBe(4);
    expect(ideal.members).toBe(3);
    expect(ideal.retriedMembers).toBe(1);
    expect(ideal.sumLatencyMs).toBe(22);
    expect(ideal.longestChainMs).toBe(20);
    expect(ideal.lowerBoundMs).toBe(20);
    expect(ideal.lptMs).toBe(20);
    // Greedy in the run's order: a's retry starts the moment its first call answered.
    expect(ideal.greedyMs).toBe(20);
  });

  it('the greedy ideal runs a ready retry before members not started yet', () => {
    // 1 slot: a (2), then a's retry (2) before b (5): 9 either way, but b ends last.
    const calls = [call('a', 2, 0), call('b', 5, 1), call('a', 2, 50)];
    expect(greedyMakespan(calls, 1)).toBe(9);
    // 2 slots: a|b at 0; a's retry at 2 on slot 1 → 4; b ends at 5.
    expect(greedyMakespan(calls, 2)).toBe(5);
  });

  it('random orders are never better than LPT on average with spread latencies', () => {
    const calls = Array.from({ length: 60 }, (_, i) => call(`m${i}`, 1 + ((i * 37) % 13)));
    const ideal = idealMakespan(calls, 6);
    const r = randomOrderGreedy(calls, 6, 50, 3);
    expect(r.meanMs).toBeGreaterThanOrEqual(ideal.lowerBoundMs);
    expect(r.p90Ms).toBeGreaterThanOrEqual(r.meanMs * 0.99);
    expect(ideal.lptMs).toBeGreaterThanOrEqual(ideal.lowerBoundMs);
  });

  it('splits the wall time into startup, slot idle, last wave and finish', () => {
    // 2 slots; batch from 0 to 20. a: 2–8 and retry 9–12; b: 2–10; c: 10–18.
    const calls = [call('a', 6, 2, 8), call('b', 8, 2, 10), call('a', 3, 9, 12), call('c', 8, 10, 18)];
    const t = tailBreakdown(calls, 2, 0, 20);
    expect(t.startupMs).toBe(2);
    expect(t.finishMs).toBe(2);
    expect(t.callSpanMs).toBe(16);
    expect(t.lastWaveMs).toBe(8);
    // Before the last start (2..10): 16 slot-ms, busy 6 + 8 + 1 = 15.
    expect(t.idleBeforeLastStartSlotMs).toBe(1);
    // Last wave (10..18): 16 slot-ms, busy 2 + 8.
    expect(t.idleLastWaveSlotMs).toBe(6);
    expect(t.retryGapMedianMs).toBe(1);
    expect(t.lastRetryStartMs).toBe(7);
  });
});
