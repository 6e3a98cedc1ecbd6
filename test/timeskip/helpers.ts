import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { HOUR_MS } from '../../lib/batch/windows';
import type { ResolvedBatchOptions } from '../../lib/batch/types';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) };

let bundle: Promise<{ code: string }> | undefined;
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), logger: quiet });
  return bundle;
}

export const MINUTE = 60_000;

/**
 * A fixed-offset zone (Etc/GMT±N) in which it is now `hoursBefore` hours before `localHour`, so a window test does not
 * depend on the time of day it runs at.
 */
export function zoneWhereHourIsAhead(localHour: number, hoursBefore: number, nowMs = Date.now()): string {
  const utcHour = new Date(nowMs).getUTCHours();
  const wantLocal = (((localHour - hoursBefore) % 24) + 24) % 24;
  let offset = (((wantLocal - utcHour) % 24) + 24) % 24; // 0..23
  if (offset > 12) offset -= 24; // -11..12
  // Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3.
  return offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

export function batchOptions(over: Partial<ResolvedBatchOptions> = {}): ResolvedBatchOptions {
  return {
    priority: 'NORMAL',
    strategy: 'REALTIME_ONLY',
    schedulingWindow: 'ANY',
    maxConcurrentRequests: 15,
    timeoutMs: 48 * HOUR_MS,
    retry: { maxAttempts: 1, initialIntervalMs: 1_000, maxIntervalMs: 1_000, backoffMultiplier: 2 },
    notifications: { kafkaTopic: 'timeskip-unused', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
    cacheMode: 'DEFAULT',
    ...over,
  };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
