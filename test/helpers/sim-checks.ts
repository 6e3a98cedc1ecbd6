import { waitFor } from '../../bench/batch-harness';
import type { MemberRecord } from '../../lib/member-record';
import { MOCK_MEMBERS, verdictFor } from '../../stedi-sim/answers';
import { defaultDelay, type SimCheck } from '../../stedi-sim/server';

/**
 * The Stedi simulator's own per-member record of every check that reached it (its `onCheck` hook), for tests that
 * must show which member was called how often on which path. Pass `onCheck` in the platform's `sim` options.
 */
export interface SimCheckRecorder {
  readonly checks: SimCheck[];
  onCheck(check: SimCheck): void;
  /** Checks per member of `members` on `path` (0 for members Stedi never saw). */
  callsOf(members: readonly MemberRecord[], path: SimCheck['path']): Map<string, number>;
  /** Checks of `members` on `path`, in total. */
  count(members: readonly MemberRecord[], path: SimCheck['path']): number;
  /** Time of each member's first check on `path`. */
  firstAt(members: readonly MemberRecord[], path: SimCheck['path']): Map<string, number>;
}

/** What the simulator keys a member by (`<payer id>|<subscriber member id>`). */
export const simKeyOf = (m: MemberRecord): string => `${m.payerId}|${m.payerMemberId}`;

export function createSimCheckRecorder(): SimCheckRecorder {
  const checks: SimCheck[] = [];
  const ofPath = (members: readonly MemberRecord[], path: SimCheck['path']) => {
    const ids = new Map(members.map((m) => [simKeyOf(m), m.memberId]));
    return checks.flatMap((c) => {
      const id = c.path === path ? ids.get(c.memberKey) : undefined;
      return id === undefined ? [] : [{ id, atMs: c.atMs }];
    });
  };
  return {
    checks,
    onCheck: (c) => void checks.push(c),
    callsOf(members, path) {
      const out = new Map(members.map((m) => [m.memberId, 0]));
      for (const c of ofPath(members, path)) out.set(c.id, out.get(c.id)! + 1);
      return out;
    },
    count: (members, path) => ofPath(members, path).length,
    firstAt(members, path) {
      const out = new Map<string, number>();
      for (const c of ofPath(members, path)) if (!out.has(c.id)) out.set(c.id, c.atMs);
      return out;
    },
  };
}

/** Members the simulator answers with a plain active coverage on the first try (no AAA retry, no mock, known payer). */
export function plainMembers(members: readonly MemberRecord[]): MemberRecord[] {
  return members.filter((m) => verdictFor(simKeyOf(m)).kind === 'active' && !MOCK_MEMBERS[simKeyOf(m)] && !['TEST', 'BADPAYER'].includes(m.payerId));
}

/** Polls `cond` until it holds (the harness's waitFor, with test defaults). */
export const eventually = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 100): Promise<void> =>
  waitFor(what, cond, timeoutMs, everyMs);

/**
 * A gate over the simulator's latency (its `delay` option): while held, every real-time answer waits after its
 * latency until release, so the checks holding Stedi's slots stay in flight and everything behind them stays parked.
 * Tests use it to hold a load for as long as they need instead of racing the simulator's drain rate.
 */
export interface SimGate {
  /** Pass as the simulator's `delay` option. Rejects when the simulator stops (its `signal` aborts). */
  delay(ms: number, signal: AbortSignal): Promise<void>;
  hold(): void;
  release(): void;
}

export function createSimGate(): SimGate {
  let gate: { promise: Promise<void>; resolve: () => void } | undefined;
  const untilReleased = (p: Promise<void>, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new Error('stopped'));
      const onAbort = () => reject(new Error('stopped'));
      signal.addEventListener('abort', onAbort, { once: true });
      void p.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  return {
    async delay(ms, signal) {
      await defaultDelay(ms, signal);
      while (gate) await untilReleased(gate.promise, signal);
    },
    hold() {
      if (gate) return;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      gate = { promise, resolve };
    },
    release() {
      gate?.resolve();
      gate = undefined;
    },
  };
}
