import { decideHedge, DEFAULT_HEDGE_CONFIG, firstGood, hedgeBudget, hedgeThresholdMs, LatencyWindow, type HedgeSituation } from './hedge-policy';

const on = { ...DEFAULT_HEDGE_CONFIG, enabled: true };

/** A last wave: 3 of 150 members left, all in flight, 12 of 15 slots free, nobody waiting, a call past its threshold. */
function lastWave(over: Partial<HedgeSituation> = {}): HedgeSituation {
  return {
    elapsedMs: 30_000,
    thresholdMs: 22_000,
    pool: { limit: 15, interactiveInUse: 0, batchInUse: 3, waiting: 0 },
    batch: { members: 150, finished: 147 },
    ...over,
  };
}

describe('hedge policy (issue 14, finite-batch tail)', () => {
  it('hedges an overdue call of a batch whose unfinished members are all in flight on an idle pool, within the batch budget', () => {
    expect(decideHedge(lastWave(), on)).toEqual({ hedge: true, budget: 15 });
  });

  it('refuses when disabled, before the threshold, or without enough observed latencies', () => {
    expect(decideHedge(lastWave(), { ...on, enabled: false })).toEqual({ hedge: false, reason: 'disabled' });
    expect(decideHedge(lastWave({ elapsedMs: 21_999 }), on)).toEqual({ hedge: false, reason: 'too-early' });
    expect(decideHedge(lastWave({ thresholdMs: undefined }), on)).toEqual({ hedge: false, reason: 'no-threshold' });
  });

  it('never hedges while anyone waits for a slot, nor into the slots kept free for interactive reads', () => {
    expect(decideHedge(lastWave({ pool: { limit: 15, interactiveInUse: 0, batchInUse: 3, waiting: 1 } }), on)).toEqual({ hedge: false, reason: 'waiters' });
    // 15 - 10 - 3 = 2 free: both kept.
    expect(decideHedge(lastWave({ pool: { limit: 15, interactiveInUse: 10, batchInUse: 3, waiting: 0 } }), on)).toEqual({ hedge: false, reason: 'no-free-slot' });
    expect(decideHedge(lastWave({ pool: { limit: 15, interactiveInUse: 9, batchInUse: 3, waiting: 0 } }), on)).toMatchObject({ hedge: true });
    // A limit lowered by 429s counts, not the configured 15.
    expect(decideHedge(lastWave({ pool: { limit: 5, interactiveInUse: 0, batchInUse: 3, waiting: 0 } }), on)).toEqual({ hedge: false, reason: 'no-free-slot' });
    expect(decideHedge(lastWave({ pool: { limit: 15, interactiveInUse: 9, batchInUse: 3, waiting: 0 } }), { ...on, freeSlotsKept: 3 })).toEqual({ hedge: false, reason: 'no-free-slot' });
  });

  it('refuses while the batch still has members that are not in flight (not started, or between retries)', () => {
    expect(decideHedge(lastWave({ batch: { members: 150, finished: 146 } }), on)).toEqual({ hedge: false, reason: 'members-not-in-flight' });
    expect(decideHedge(lastWave({ batch: undefined }), on)).toEqual({ hedge: false, reason: 'batch-unknown' });
  });

  it('caps hedges at floor(maxFraction × members): none for a batch under 10 members at 10 %', () => {
    expect(hedgeBudget(150, 0.1)).toBe(15);
    expect(hedgeBudget(30, 0.1)).toBe(3);
    expect(hedgeBudget(9, 0.1)).toBe(0);
    expect(hedgeBudget(150, 0)).toBe(0);
    expect(decideHedge(lastWave({ batch: { members: 9, finished: 6 } }), on)).toEqual({ hedge: false, reason: 'budget' });
    expect(decideHedge(lastWave({ batch: { members: 30, finished: 27 } }), on)).toEqual({ hedge: true, budget: 3 });
  });

  it('takes the threshold from the percentile of recent latencies, never below minMs, and only with enough samples', () => {
    const w = new LatencyWindow(100);
    for (let i = 1; i <= 19; i++) w.push(i * 1_000);
    expect(hedgeThresholdMs(w, on)).toBeUndefined();
    w.push(20_000);
    expect(hedgeThresholdMs(w, on)).toBe(18_000);
    expect(hedgeThresholdMs(w, { ...on, percentile: 0.5 })).toBe(10_000);
    expect(hedgeThresholdMs(w, { ...on, percentile: 0.5, minMs: 12_000 })).toBe(12_000);
  });

  it('keeps only the last `size` latencies and ignores nonsense', () => {
    const w = new LatencyWindow(3);
    for (const ms of [100, 200, 300, 400, Number.NaN, -5]) w.push(ms);
    expect(w.count).toBe(3);
    expect(w.quantile(1)).toBe(400);
    expect(w.quantile(0.01)).toBe(200);
    expect(new LatencyWindow(1).quantile(0.9)).toBeUndefined();
    expect(() => new LatencyWindow(0)).toThrow(RangeError);
  });

  it('firstGood: the first good answer wins; a failed call leaves the other to answer; both failed throws the primary error', async () => {
    const later = (ms: number, v: unknown, fail = false) => new Promise<unknown>((res, rej) => setTimeout(() => (fail ? rej(v) : res(v)), ms));
    await expect(firstGood(later(30, 'p'), later(5, 'h'))).resolves.toEqual({ value: 'h', winner: 'hedge' });
    await expect(firstGood(later(5, 'p'), later(30, 'h'))).resolves.toEqual({ value: 'p', winner: 'primary' });
    await expect(firstGood(later(5, new Error('503'), true), later(30, 'h'))).resolves.toEqual({ value: 'h', winner: 'hedge' });
    await expect(firstGood(later(30, 'p'), later(5, new Error('timeout'), true))).resolves.toEqual({ value: 'p', winner: 'primary' });
    await expect(firstGood(later(30, new Error('primary'), true), later(5, new Error('hedge'), true))).rejects.toThrow('primary');
    await expect(firstGood(later(5, new Error('primary'), true), later(30, new Error('hedge'), true))).rejects.toThrow('primary');
  });
});
