import { fromBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { MemberCronEventSchema, type MemberCronEvent } from '../../gen/rte/v1/events_pb';
import { cacheOperationOf } from '../../lib/operations';
import { WARMING_SKIP_BELOW, WARMING_URGENT_ABOVE, type WarmingPriority } from '../../lib/warming/types';

/**
 * Pure routing of one member-cron event to cache warming (issue 9, design doc Component 4):
 *   P < 0.7 → skip; 0.7 ≤ P ≤ 0.9 → PRELOAD (batch API, 12–24 h before the predicted window);
 *   P > 0.9 → URGENT (real time, 2–4 h before the predicted window).
 * Every time here derives from the record itself (emitted_at, the predicted window), never from the clock of the
 * consumer, so replaying a topic routes every event to the same bucket and the same dedupe key.
 */

const HOUR = 3_600_000;

/** The prediction horizon when an event carries no window: [emitted_at, emitted_at + 24 h). */
export const DEFAULT_WINDOW_MS = 24 * HOUR;

/** Lead before the predicted window start, per priority (design doc: URGENT 2–4 h, PRELOAD 12–24 h). */
export const WARMING_LEADS: Record<'URGENT' | 'PRELOAD', { minMs: number; maxMs: number }> = {
  URGENT: { minMs: 2 * HOUR, maxMs: 4 * HOUR },
  PRELOAD: { minMs: 12 * HOUR, maxMs: 24 * HOUR },
};

// The probability is a float32 on the wire: compare against the float32 thresholds, so a producer's 0.7
// (0.699999988 once decoded) is PRELOAD and its 0.9 is not URGENT, exactly as written in the doc's table.
const SKIP_BELOW = Math.fround(WARMING_SKIP_BELOW);
const URGENT_ABOVE = Math.fround(WARMING_URGENT_ABOVE);

export interface RoutingConfig {
  /**
   * Time scale (WARMING_LEAD_SCALE, default 1): every interval measured from the event's emitted_at (distance to
   * the predicted window, leads, buckets) is multiplied by it. Tests use e.g. 1/3600 so an hour lasts a second.
   */
  leadScale: number;
  /**
   * Warm members with P at or above this (WARMING_MIN_PROBABILITY, default the design doc's 0.7; the operating
   * point of docs/synthetic-day.md). Below 0.9 → PRELOAD, above → URGENT, whatever this is.
   */
  skipBelow?: number;
}

export type RouteDecision =
  | { action: 'skip'; reason: 'below_threshold' | 'no_prediction' | 'no_member' }
  | {
      action: 'warm';
      memberId: string;
      priority: Extract<WarmingPriority, 'URGENT' | 'PRELOAD'>;
      /** `member-cron-<schedule>`. */
      source: string;
      /** The member-cron schedule the event came from (the job's CacheWarmingEvent.schedule_name). */
      scheduleName: string;
      /**
       * Cache operations of the predicted ones (lib/operations.ts cacheOperationOf: the table CheckEligibility and
       * WarmCache read, so a prediction warms the entry the member's app will read), sorted, de-duplicated; operations
       * the table does not know are ignored, and empty = all operations.
       */
      operations: string[];
      /** Start of the notBefore bucket (epoch ms); members of one bucket are held until `notBeforeMs`. */
      bucketStartMs: number;
      /**
       * When the group may start warming: the end of its bucket, inside [window − max lead, window − min lead] of
       * every member in it; null = at once (the window starts sooner than the longest lead after the event).
       */
      notBeforeMs: number | null;
      /** End of the member's predicted window: a warm read before it counts as used. */
      horizonUntilMs: number;
    };

export function priorityFor(probability: number, skipBelow?: number): 'URGENT' | 'PRELOAD' | null {
  if (!(probability >= (skipBelow === undefined ? SKIP_BELOW : Math.fround(skipBelow)))) return null; // NaN too
  return probability > URGENT_ABOVE ? 'URGENT' : 'PRELOAD';
}

/** Decodes a record value; throws with the reason for anything that is not a usable MemberCronEvent. */
export function decodeMemberCronEvent(value: Uint8Array): MemberCronEvent {
  if (value.length === 0) throw new Error('empty record value (expected rte.v1.MemberCronEvent)');
  const ev = fromBinary(MemberCronEventSchema, value);
  if (!ev.scheduleName) throw new Error('rte.v1.MemberCronEvent without schedule_name');
  return ev;
}

/**
 * Routes a decoded event. `recordTimestampMs` (the Kafka record timestamp) stands in for emitted_at when a producer
 * left it unset.
 */
export function routeMemberCronEvent(ev: MemberCronEvent, recordTimestampMs: number, cfg: RoutingConfig): RouteDecision {
  const prediction = ev.context?.predictedActivity;
  if (!prediction) return { action: 'skip', reason: 'no_prediction' };
  const priority = priorityFor(prediction.appUsageProbability, cfg.skipBelow);
  if (!priority) return { action: 'skip', reason: 'below_threshold' };
  if (!ev.memberId) return { action: 'skip', reason: 'no_member' };

  const base = ev.emittedAt ? timestampMs(ev.emittedAt) : recordTimestampMs;
  const timing = warmTiming(
    priority,
    base,
    prediction.predictedWindowStart ? timestampMs(prediction.predictedWindowStart) : null,
    prediction.predictedWindowEnd ? timestampMs(prediction.predictedWindowEnd) : null,
    cfg.leadScale,
  );

  return {
    action: 'warm',
    memberId: ev.memberId,
    priority,
    source: `member-cron-${ev.scheduleName}`,
    scheduleName: ev.scheduleName,
    operations: [...new Set(prediction.predictedOperations.flatMap((o) => cacheOperationOf(o) ?? []))].sort(),
    ...timing,
  };
}

export interface WarmTiming {
  /** Start of the notBefore bucket (epoch ms). */
  bucketStartMs: number;
  /** When the member's group may start warming; null = at once. */
  notBeforeMs: number | null;
  /** End of the predicted window (scaled). */
  horizonUntilMs: number;
}

/**
 * The timing part of routeMemberCronEvent, on plain numbers (no protobuf message): `baseMs` is the event's
 * emitted_at, `windowStartMs` / `windowEndMs` the predicted window (null = none: the window starts at `baseMs`
 * and lasts DEFAULT_WINDOW_MS), `leadScale` the RoutingConfig's.
 */
export function warmTiming(
  priority: 'URGENT' | 'PRELOAD',
  baseMs: number,
  windowStartMs: number | null,
  windowEndMs: number | null,
  leadScale: number,
): WarmTiming {
  const base = baseMs;
  const scale = leadScale;
  const at = (t: number): number => base + (t - base) * scale;
  const windowStart = at(windowStartMs ?? base);
  const rawEnd = windowEndMs ?? base + DEFAULT_WINDOW_MS;
  const windowEnd = Math.max(windowStart, at(rawEnd));

  const lead = WARMING_LEADS[priority];
  // Buckets half as wide as the lead range: a bucket's members are held until its end, which falls within
  // [window - max lead, window - min lead] of every member in it.
  const width = Math.max(1, Math.floor(((lead.maxMs - lead.minMs) / 2) * scale));
  const ideal = windowStart - lead.maxMs * scale;
  // A window that starts sooner than the longest lead after the event: warm as soon as possible (no hold), in
  // a bucket of its own per emission time.
  const asap = ideal <= base;
  const bucketStartMs = Math.floor((asap ? base : ideal) / width) * width;
  return { bucketStartMs, notBeforeMs: asap ? null : bucketStartMs + width, horizonUntilMs: windowEnd };
}

/**
 * The group label of a routed member (the member-cron feed groups a block's members by priority, label, source and
 * operations): its notBefore bucket; a member warmed at once (no hold) also by the (scaled) hour its predicted
 * window ends. A group's horizon is the latest window end of its members and INTELLIGENT judges freshness through
 * it (lib/warming/decide.ts), so this keeps the horizon within an hour of every member's own (issue 11 tuning:
 * without it, one group spans the whole 24 h horizon and refreshes entries that would have lasted through the
 * member's own use).
 */
export function warmGroupLabel(timing: Pick<WarmTiming, 'bucketStartMs' | 'notBeforeMs' | 'horizonUntilMs'>, leadScale: number): string {
  if (timing.notBeforeMs !== null) return String(timing.bucketStartMs);
  const hour = Math.max(1, Math.floor(HOUR * leadScale));
  return `now${timing.bucketStartMs}u${Math.floor(timing.horizonUntilMs / hour)}`;
}
