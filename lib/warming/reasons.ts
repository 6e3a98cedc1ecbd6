import type { WarmingStatusName } from '../../workflows/warming.defs';
import { deferredByLoadText } from '../batch/details';
import type { CoverageError } from '../coverage-summary';
import type { WarmOutcome } from './types';

/**
 * Why a warm failed, as its warm record (cache_warms.reason) says it and GetWarmingJob groups it. Reasons carry no
 * per-member text (ids, hashes), so the same cause reads the same for every member and `failure_reasons` counts it
 * once with its number; members are listed where each is named (the child batch's errors). Pure.
 */

/** A payer error the real-time path cached: the AAA code and its description (proto: "PAYER_ERROR: AAA 42 …"). */
export function payerErrorReason(errors: readonly Pick<CoverageError, 'code' | 'description'>[]): string {
  const first = errors.find((e) => e.code || e.description);
  if (!first) return 'PAYER_ERROR: the payer answered with an error';
  const code = first.code ? `AAA ${first.code}` : '';
  return `PAYER_ERROR: ${[code, first.description].filter(Boolean).join(' ')}`;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Why a job is in its status (empty when there is no why). Pure (GetWarmingJob's reason, WarmCache's for an ended job, and a FAILED CacheWarmingEvent's error_message). A FAILED / CANCELLED job's own reason first; a job
 * that ended with failed warms says how many and the most common reason.
 */
export function warmingJobReason(f: {
  status: WarmingStatusName;
  explicit?: string;
  counts?: Record<WarmOutcome, number>;
  topReason?: { reason: string; count: number };
  pausedBy?: string;
  waitingUntilMs?: number;
  /** WAITING: the waiting children's window, and whether Stedi's slot load (not a window) deferred one. */
  window?: string;
  deferredByLoad?: boolean;
  resolving?: boolean;
}): string {
  switch (f.status) {
    case 'PAUSED':
      return f.pausedBy ? `paused by ${f.pausedBy}` : 'paused';
    case 'WAITING':
      // In the batches' words (GetBatchStatus's status_detail): the cause, and the bound the wait keeps.
      if (f.deferredByLoad && f.waitingUntilMs !== undefined) return deferredByLoadText(iso(f.waitingUntilMs));
      return `waiting for ${f.window ? `the ${f.window} window` : 'the scheduling window of its batches'}${f.waitingUntilMs !== undefined ? ` until ${iso(f.waitingUntilMs)}` : ''}`;
    case 'PENDING':
      if (f.resolving) return 'resolving its member query';
      return f.waitingUntilMs !== undefined ? `held until ${iso(f.waitingUntilMs)} (not before)` : 'starting';
    case 'FAILED':
    case 'CANCELLED':
    case 'PARTIALLY_COMPLETED': {
      if (f.explicit) return f.explicit;
      const c = f.counts;
      if (c && c.failed + c.cancelled > 0) {
        const total = Object.values(c).reduce((a, b) => a + b, 0);
        const parts = [c.failed > 0 ? `${fmt(c.failed)} failed` : '', c.cancelled > 0 ? `${fmt(c.cancelled)} cancelled` : ''].filter(Boolean).join(', ');
        return `${parts} of ${fmt(total)} warms${f.topReason ? `; most common: ${f.topReason.reason} (${fmt(f.topReason.count)})` : ''}`;
      }
      return f.status === 'CANCELLED' ? 'cancelled' : f.status === 'FAILED' ? 'no warm succeeded' : '';
    }
    default:
      return '';
  }
}
