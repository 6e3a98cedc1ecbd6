import type { AccuracySnapshot, PredictionOutcomeStore, PredictionRun, RecordedPrediction } from './ports';

interface Open {
  predictedAt: number;
  horizonEnd: number;
  probability: number;
  used: boolean;
}

/** In-process PredictionOutcomeStore for unit tests (same semantics as the Redis adapter, no expiry). */
export class InMemoryPredictionOutcomeStore implements PredictionOutcomeStore {
  /** member hash → run key → prediction */
  readonly members = new Map<string, Map<string, Open>>();
  readonly runs = new Map<string, { horizonEnd: number; predicted: number; used: number }>();
  failNext = 0;

  private maybeFail(): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('injected prediction store failure');
    }
  }

  async recordPredictions(run: PredictionRun, predictions: readonly RecordedPrediction[], now: number): Promise<number> {
    this.maybeFail();
    if (predictions.length === 0 || run.horizonEnd <= now) return 0;
    const counts = this.runs.get(run.runKey) ?? { horizonEnd: run.horizonEnd, predicted: 0, used: 0 };
    this.runs.set(run.runKey, counts);
    let added = 0;
    for (const p of predictions) {
      const open = this.members.get(p.memberHash) ?? new Map<string, Open>();
      this.members.set(p.memberHash, open);
      if (open.has(run.runKey)) continue;
      open.set(run.runKey, { predictedAt: run.predictedAt, horizonEnd: run.horizonEnd, probability: p.probability, used: false });
      added++;
    }
    counts.predicted += added;
    return added;
  }

  async observeUsage(memberHash: string, at: number): Promise<number> {
    this.maybeFail();
    let marked = 0;
    for (const [runKey, p] of this.members.get(memberHash) ?? []) {
      if (p.used || at < p.predictedAt || at >= p.horizonEnd) continue;
      p.used = true;
      const counts = this.runs.get(runKey);
      if (counts) counts.used++;
      marked++;
    }
    return marked;
  }

  async accuracy(now: number, lookbackMs: number): Promise<AccuracySnapshot> {
    this.maybeFail();
    const out = { predicted: 0, used: 0, runs: 0 };
    for (const r of this.runs.values()) {
      if (r.horizonEnd < now - lookbackMs || r.horizonEnd > now) continue;
      out.predicted += r.predicted;
      out.used += r.used;
      out.runs++;
    }
    return out;
  }
}
