import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { PlanMembersInput, PlanMembersResult, PollStediChunkInput, PollStediChunkResult, SubmitStediChunkInput, SubmitStediChunkResult } from '../../activities/batch/activities';
import { Bitmap } from '../../lib/batch/bitmap';
import { scheduleMember, windowForMember } from '../../lib/batch/windows';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';

/**
 * Stand-in batch activities for time-skipping tests: pure in-memory, each call recorded with the test server's (skipped)
 * clock when it ran, never the wall clock. planMembers keeps the real activity's
 * contract (activities/batch/activities.ts) with the real scheduling math (lib/batch/windows.ts): every member's time
 * from scheduleMember, and `wait` until the earliest (real-time) or the median (batch API) one when it lies ahead.
 */
export interface Call<T = unknown> {
  name: string;
  atMs: number;
  attempt: number;
  input: T;
}

export interface FakeBatchOptions {
  /** Time zone of every member (the directory's record); default the platform default. */
  timeZone?: string;
  /** refreshEligibility's answer per attempt; default success. Throw to fail the attempt. */
  refresh?: (input: EligibilityRefreshInput, attempt: number) => void;
  /** Stedi batch: how many polls answer "still running" before the chunk is done. */
  pollsBeforeDone?: number;
  /** The test server's (skipped) clock: TestWorkflowEnvironment.currentTimeMs. */
  clock: () => Promise<number>;
}

export function fakeBatchActivities(opts: FakeBatchOptions) {
  const calls: Call[] = [];
  const record = async <T>(name: string, input: T) => {
    const attempt = Context.current().info.attempt;
    calls.push({ name, atMs: await opts.clock(), attempt, input });
  };
  const memberId = (i: number) => `m_${i}`;
  const acts = {
    async getStediLoad() {
      await record('getStediLoad', {});
      return { limit: 15, inUse: 0, freeSlots: 15, load: 0 };
    },
    async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
      await record('planMembers', input);
      const times = Array.from({ length: input.count }, (_, k) => {
        const g = windowForMember(input.window, input.total, input.start + k);
        return scheduleMember({ window: g.window, nowMs: input.scheduleBaseMs, timeZone: opts.timeZone ?? null, seed: input.batchId, position: g.position, groupSize: g.groupSize, load: input.load }).atMs;
      });
      const sorted = [...times].sort((a, b) => a - b);
      const due = input.mode === 'realtime' ? sorted[0]! : sorted[Math.floor((sorted.length - 1) / 2)]!;
      if (due > input.nowMs + 1000) return { kind: 'wait', notBeforeMs: due };
      if (input.mode === 'realtime') {
        const refresh = times.map((atMs, k) => ({ i: input.start + k, memberId: memberId(input.start + k), atMs })).sort((a, b) => a.atMs - b.atMs || a.i - b.i);
        return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: refresh.length, refresh, windows: {} };
      }
      const bitmap = Bitmap.empty(input.count);
      for (let k = 0; k < input.count; k++) bitmap.add(k);
      return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: input.count, refreshBitmap: bitmap.encode(), windows: {} };
    },
    async refreshEligibility(input: EligibilityRefreshInput) {
      await record('refreshEligibility', input);
      opts.refresh?.(input, Context.current().info.attempt);
      return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
    },
    async submitStediChunk(input: SubmitStediChunkInput): Promise<SubmitStediChunkResult> {
      await record('submitStediChunk', input);
      const n = Bitmap.decode(input.size, input.refreshBitmap).count();
      return { stediBatchId: `stedi-${input.batchId}-${input.chunkNo}`, submitted: input.refreshBitmap, submittedCount: n, rejected: 0, recoveredByName: false };
    },
    async pollStediChunk(input: PollStediChunkInput): Promise<PollStediChunkResult> {
      await record('pollStediChunk', input);
      const polls = calls.filter((c) => c.name === 'pollStediChunk' && (c.input as PollStediChunkInput).stediBatchId === input.stediBatchId).length;
      const submitted = Bitmap.decode(input.size, input.submitted);
      if (polls <= (opts.pollsBeforeDone ?? 0)) return { seen: input.seen, seenCount: Bitmap.decode(input.size, input.seen).count(), newCompleted: 0, newFailed: 0, missing: 0, refreshed: 0, stediStatus: 'IN_PROGRESS', done: false };
      return { seen: input.submitted, seenCount: submitted.count(), newCompleted: submitted.count(), newFailed: 0, missing: 0, refreshed: submitted.count(), stediStatus: 'COMPLETED', done: true };
    },
    async recordMemberErrors(input: unknown) {
      await record('recordMemberErrors', input);
    },
    async publishBatchEvent(input: unknown) {
      await record('publishBatchEvent', input);
    },
    async releaseMemberList(input: unknown) {
      await record('releaseMemberList', input);
    },
    async resolveQueryPage() {
      throw ApplicationFailure.nonRetryable('not used by these tests');
    },
  };
  return { acts, calls, named: (name: string) => calls.filter((c) => c.name === name) };
}
