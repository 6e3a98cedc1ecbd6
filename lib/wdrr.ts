/**
 * Weighted deficit round robin (Shreedhar & Varghese) over batch queues, one grant at a time.
 *
 * The slot pool's Lua scheduler (activities/slot-pool/lua.ts) mirrors this function line for line so the
 * decision is atomic across worker processes; a test runs both on the same inputs and compares sequences.
 * Rules that keep the two identical:
 * - all arithmetic is on integers: a queue's weight becomes an integer quantum (weight × 1000, at least 1)
 *   and each grant costs WDRR_COST (1000), so no float ever round-trips through Redis' string storage;
 * - queue ids are ordered by byte value (what Redis sorted sets use), never by locale;
 * - a queue that is not active (no waiters) loses its deficit, as in classic DRR.
 *
 * Pure: the caller passes the state and keeps the returned state.
 */

export const WDRR_COST = 1000;

/** Priority weights for batch queues; the queue's weight is client weight × priority weight. */
export const DEFAULT_PRIORITY_WEIGHTS = Object.freeze({ HIGH: 4, NORMAL: 2, LOW: 1 });
export type BatchPriority = keyof typeof DEFAULT_PRIORITY_WEIGHTS;

export interface WdrrQueue {
  readonly id: string;
  /** Integer credit added each time the round robin visits the queue (see quantumForWeight). */
  readonly quantum: number;
}

export interface WdrrState {
  /** Queue the round robin is on (it keeps serving it while its deficit covers a grant). */
  readonly cursor: string | null;
  /** Unspent credit per active queue, integers. */
  readonly deficits: Readonly<Record<string, number>>;
}

export const EMPTY_WDRR_STATE: WdrrState = Object.freeze({ cursor: null, deficits: Object.freeze({}) });

export interface WdrrDecision {
  /** Queue to serve next, or null when no queue is active. */
  readonly pick: string | null;
  readonly state: WdrrState;
}

export function quantumForWeight(weight: number): number {
  if (!Number.isFinite(weight) || weight <= 0) throw new RangeError(`weight must be a positive number, got ${weight}`);
  return Math.max(1, Math.round(weight * WDRR_COST));
}

/** Byte-order comparison (Redis sorted-set lexicographic order), independent of locale. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Choose the queue that gets the next slot. `active` lists queues that have waiters (any order; duplicates
 * are not allowed). Deficits of queues missing from `active` are dropped.
 */
export function wdrrPick(active: readonly WdrrQueue[], state: WdrrState): WdrrDecision {
  const queues = [...active].sort((a, b) => compareBytes(a.id, b.id));
  for (let i = 1; i < queues.length; i++) {
    if (queues[i]!.id === queues[i - 1]!.id) throw new RangeError(`duplicate queue id ${queues[i]!.id}`);
  }
  for (const q of queues) {
    if (!Number.isInteger(q.quantum) || q.quantum < 1) throw new RangeError(`queue ${q.id}: quantum must be a positive integer`);
  }
  // Null prototype: queue ids such as "toString" must not resolve to Object.prototype members.
  const deficits: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const q of queues) deficits[q.id] = Object.hasOwn(state.deficits, q.id) ? state.deficits[q.id]! : 0;
  const n = queues.length;
  if (n === 0) return { pick: null, state: { cursor: state.cursor, deficits } };

  const cursor = state.cursor;
  let idx = cursor === null ? -1 : queues.findIndex((q) => q.id === cursor);
  if (idx >= 0 && deficits[cursor!]! >= WDRR_COST) {
    deficits[cursor!] = deficits[cursor!]! - WDRR_COST;
    return { pick: cursor, state: { cursor, deficits } };
  }
  let next: number;
  if (idx >= 0) {
    next = (idx + 1) % n;
  } else {
    // Cursor's queue went idle (or none yet): continue with the first queue after it in byte order.
    next = 0;
    if (cursor !== null) {
      idx = queues.findIndex((q) => compareBytes(q.id, cursor) > 0);
      next = idx >= 0 ? idx : 0;
    }
  }
  // Each full lap adds at least 1 credit to every queue, so this ends within WDRR_COST laps.
  for (let guard = 0; guard <= n * WDRR_COST; guard++) {
    const q = queues[next]!;
    const d = deficits[q.id]! + q.quantum;
    if (d >= WDRR_COST) {
      deficits[q.id] = d - WDRR_COST;
      return { pick: q.id, state: { cursor: q.id, deficits } };
    }
    deficits[q.id] = d;
    next = (next + 1) % n;
  }
  throw new Error('wdrrPick: no queue reached the grant cost (unreachable with positive quanta)');
}

/**
 * Replay `steps` grants over queues with fixed backlogs (a queue leaves the active set when its backlog
 * runs out). Used by tests and the Lua-equivalence check; returns the queue id of each grant.
 */
export function wdrrSimulate(
  queues: readonly (WdrrQueue & { readonly backlog: number })[],
  steps: number,
  initial: WdrrState = EMPTY_WDRR_STATE,
): { sequence: string[]; state: WdrrState } {
  const backlog = new Map(queues.map((q) => [q.id, q.backlog]));
  let state = initial;
  const sequence: string[] = [];
  for (let s = 0; s < steps; s++) {
    const active = queues.filter((q) => (backlog.get(q.id) ?? 0) > 0);
    const d = wdrrPick(active, state);
    state = d.state;
    if (d.pick === null) break;
    sequence.push(d.pick);
    backlog.set(d.pick, backlog.get(d.pick)! - 1);
  }
  return { sequence, state };
}
