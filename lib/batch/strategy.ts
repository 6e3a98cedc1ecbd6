import type { BatchPriorityName, ExecutionPath, RequestedStrategy } from './types';

/**
 * The design doc's STRATEGY_OPTIMAL decision matrix (Component 3, "Execution Strategies") as a lookup table,
 * evaluated top-down, first match wins:
 *
 * | batch size | priority | Stedi load | time | strategy  | row          |
 * |------------|----------|------------|------|-----------|--------------|
 * | < 100      | any      | any        | any  | real-time | small        |
 * | > 1,000    | any      | any        | any  | batch API | large        |
 * | any        | LOW      | any        | any  | batch API | low-priority |
 * | 100–1,000  | NORMAL   | any        | any  | batch API | normal       |
 * | 100–1,000  | HIGH     | low        | any  | real-time | high-idle    |
 * | 100–1,000  | HIGH     | not low    | any  | batch API | high-busy    |
 *
 * The doc's table leaves "HIGH with Stedi busy" open; its bullet list closes it ("if < 5 slots free → Batch
 * API"), which is the last row. "Low load" means at least 5 of the real-time slots are free. The doc's time
 * column is "Any" in every row, so time of day does not change the path; it acts through scheduling windows
 * (off-peak LOW_UTILIZATION) instead. It is still recorded in the decision for operators.
 * BATCH_ONLY / REALTIME_ONLY bypass the table.
 */

export interface StrategyInput {
  requested: RequestedStrategy;
  size: number;
  priority: BatchPriorityName;
  /** Free real-time Stedi slots right now (slot pool limit − in use). */
  freeSlots: number;
  /** Local hour (0–23) at decision time, recorded only. */
  hour: number;
}

export interface StrategyDecision {
  path: ExecutionPath;
  /** Which row (or 'forced') decided. */
  rule: string;
}

/** "< 5 slots free → Batch API" (design doc). */
export const LOW_LOAD_MIN_FREE_SLOTS = 5;
export const SMALL_BATCH_MAX = 99;
export const LARGE_BATCH_MIN = 1_001;

interface Row {
  rule: string;
  matches(i: StrategyInput): boolean;
  path: ExecutionPath;
}

const isLowLoad = (i: StrategyInput) => i.freeSlots >= LOW_LOAD_MIN_FREE_SLOTS;

export const STRATEGY_MATRIX: readonly Row[] = [
  { rule: 'small', matches: (i) => i.size <= SMALL_BATCH_MAX, path: 'REALTIME' },
  { rule: 'large', matches: (i) => i.size >= LARGE_BATCH_MIN, path: 'BATCH_API' },
  { rule: 'low-priority', matches: (i) => i.priority === 'LOW', path: 'BATCH_API' },
  { rule: 'normal', matches: (i) => i.priority === 'NORMAL', path: 'BATCH_API' },
  { rule: 'high-idle', matches: (i) => i.priority === 'HIGH' && isLowLoad(i), path: 'REALTIME' },
  { rule: 'high-busy', matches: (i) => i.priority === 'HIGH' && !isLowLoad(i), path: 'BATCH_API' },
];

export function decideStrategy(input: StrategyInput): StrategyDecision {
  if (!Number.isInteger(input.size) || input.size < 0) throw new RangeError(`invalid batch size ${input.size}`);
  switch (input.requested) {
    case 'BATCH_ONLY':
      return { path: 'BATCH_API', rule: 'forced' };
    case 'REALTIME_ONLY':
      return { path: 'REALTIME', rule: 'forced' };
    case 'OPTIMAL': {
      const row = STRATEGY_MATRIX.find((r) => r.matches(input));
      if (!row) throw new Error(`strategy matrix has no row for priority ${String(input.priority)}`);
      return { path: row.path, rule: row.rule };
    }
    default: {
      const never: never = input.requested;
      throw new RangeError(`unknown strategy ${String(never)}`);
    }
  }
}
