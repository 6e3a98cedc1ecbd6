import type { Logger } from '../../lib/logger';
import type { WarmingIntake, WarmingIntakeRequest, WarmingPriority } from '../../lib/warming/types';
import { decodeMemberCronEvent, routeMemberCronEvent, warmGroupLabel, type RoutingConfig } from './member-cron-routing';

/**
 * The member-cron consumer's core, free of Kafka (unit-tested with fakes; member-cron-consumer.ts drives it from
 * a kafkajs consumer group). Per partition:
 *
 *  - every record is decoded and routed (member-cron-routing.ts); undecodable → dead letter; below 0.7 → skip;
 *  - routed members are grouped by (offset block, priority, notBefore bucket, source, operations; members warmed at
 *    once also by the hour their predicted window ends: warmGroupLabel, so the group's horizon is each member's use). An offset block
 *    is `maxGroupSize` consecutive offsets of the partition, so a group never exceeds maxGroupSize members and
 *    its membership depends only on the topic's contents;
 *  - a group is handed to `WarmingIntake.accept()` when its block is complete (a later offset arrived) or when it
 *    has waited `maxDelayMs` while its partition is idle (not while handle() waits for a completed block); its dedupeKey is `<topic>/<partition>/<first>-<last offset>/<priority>/<bucket>/
 *    <source>/<operations>`, so a replay of the same records yields the same keys (a group cut short by the
 *    delay during live consumption and read whole on replay gets another key: harmless, INTELLIGENT skips fresh
 *    entries);
 *  - the partition's offset is committed up to (not past) the first record whose fate is not settled yet: settled
 *    = dead-lettered, skipped, or its group's accept() resolved. A crash or a lost partition re-delivers
 *    everything after the last commit (at-least-once), which the dedupe keys make harmless.
 */

export interface FeedRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka record timestamp (epoch ms), used when an event has no emitted_at. */
  timestampMs: number;
  key: string | null;
  value: Uint8Array;
  headers: Record<string, string>;
}

export interface CommitOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka commit semantics). */
  offset: string;
}

export interface FeedMetrics {
  consumed(n: number): void;
  skipped(reason: string): void;
  routed(priority: WarmingPriority): void;
  deadLettered(): void;
  groupAccepted(priority: WarmingPriority, members: number): void;
  acceptFailed(): void;
  pending(events: number): void;
}

export interface MemberCronFeedOptions {
  intake: WarmingIntake;
  routing: RoutingConfig;
  /** Offsets per block = most members in one warming job request. */
  maxGroupSize: number;
  /** Longest a routed event waits in an open group before the group is accepted. */
  maxDelayMs: number;
  /** Sends an undecodable record to the dead-letter topic; throws if it could not (the record is then retried). */
  deadLetter(record: FeedRecord, reason: string): Promise<void>;
  commit(offsets: CommitOffset[]): Promise<void>;
  clock?: () => number;
  metrics?: FeedMetrics;
  logger?: Logger;
  /** Backoff between accept() attempts (doubling, capped). */
  acceptRetryInitialMs?: number;
  acceptRetryMaxMs?: number;
}

interface Group {
  key: string;
  block: bigint;
  topic: string;
  partition: number;
  priority: 'URGENT' | 'PRELOAD';
  source: string;
  /** The member-cron schedule of its events (one per source: source = member-cron-<schedule>). */
  scheduleName: string;
  operations: string[];
  bucketLabel: string;
  notBeforeMs: number | null;
  horizonUntilMs: number;
  memberIds: Set<string>;
  offsets: bigint[];
  /** The group's records, for the dead-letter topic if the intake refuses the group for good. */
  records: FeedRecord[];
  openedAt: number;
}

interface Tracked {
  offset: bigint;
  done: boolean;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Records handled in this generation, in offset order; the settled prefix is popped into `commitTarget`. */
  tracked: Tracked[];
  byOffset: Map<bigint, Tracked>;
  highestSeen: bigint;
  commitTarget: bigint | null;
  committed: bigint | null;
  groups: Map<string, Group>;
  /**
   * handle() is waiting for this partition's completed block: its open groups are not flushed by the delay then
   * (records are flowing; the block completes by data), so live consumption cuts groups where a replay does.
   */
  blocked: number;
}

/** A refusal of the request itself (validation), as opposed to the intake being unavailable. */
function isPermanentRefusal(err: unknown): boolean {
  return err instanceof RangeError || (err instanceof Error && err.name === 'RangeError');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class MemberCronWarmingFeed {
  private readonly clock: () => number;
  private partitions = new Map<string, PartitionState>();
  private generation = 0;
  private stopping = false;
  private inFlight = new Set<Promise<void>>();
  private commitChain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: MemberCronFeedOptions) {
    if (!(opts.maxGroupSize >= 1)) throw new Error('maxGroupSize must be >= 1');
    this.clock = opts.clock ?? Date.now;
  }

  /** Routed events waiting for their group's accept(). */
  pendingEvents(): number {
    let n = 0;
    for (const p of this.partitions.values()) for (const g of p.groups.values()) n += g.offsets.length;
    return n;
  }

  /** Handles one record; resolves once it is tracked (and, when it completed a block, once that block is accepted). */
  async handle(record: FeedRecord): Promise<void> {
    const p = this.state(record.topic, record.partition);
    const offset = BigInt(record.offset);
    if (offset <= p.highestSeen) return; // re-delivered within this generation: already tracked
    this.opts.metrics?.consumed(1);

    let decision;
    try {
      decision = routeMemberCronEvent(decodeMemberCronEvent(record.value), record.timestampMs, this.opts.routing);
    } catch (err) {
      await this.opts.deadLetter(record, `undecodable rte.v1.MemberCronEvent: ${errMessage(err)}`);
      this.opts.metrics?.deadLettered();
      this.track(p, offset, true);
      this.advance(p);
      return;
    }
    if (decision.action === 'skip') {
      this.opts.metrics?.skipped(decision.reason);
      this.track(p, offset, true);
      this.advance(p);
      return;
    }

    this.opts.metrics?.routed(decision.priority);
    const block = offset / BigInt(this.opts.maxGroupSize);
    const bucketLabel = warmGroupLabel(decision, this.opts.routing.leadScale);
    const opsLabel = decision.operations.length > 0 ? decision.operations.join('+') : 'all';
    const key = [block, decision.priority, bucketLabel, decision.source, opsLabel].join('|');
    let g = p.groups.get(key);
    if (!g) {
      g = {
        key,
        block,
        topic: record.topic,
        partition: record.partition,
        priority: decision.priority,
        source: decision.source,
        scheduleName: decision.scheduleName,
        operations: decision.operations,
        bucketLabel,
        notBeforeMs: decision.notBeforeMs,
        horizonUntilMs: decision.horizonUntilMs,
        memberIds: new Set(),
        offsets: [],
        records: [],
        openedAt: this.clock(),
      };
      p.groups.set(key, g);
    }
    g.memberIds.add(decision.memberId);
    g.offsets.push(offset);
    g.records.push(record);
    g.horizonUntilMs = Math.max(g.horizonUntilMs, decision.horizonUntilMs);
    this.track(p, offset, false);
    this.opts.metrics?.pending(this.pendingEvents());

    // Blocks before this record's are complete (offsets only grow within a partition); so is this one at its last offset.
    const lastOfBlock = (block + 1n) * BigInt(this.opts.maxGroupSize) - 1n;
    const complete = [...p.groups.values()].filter((x) => x.block < block || (x.block === block && offset === lastOfBlock));
    if (complete.length > 0) {
      p.blocked++;
      try {
        await Promise.all(complete.map((x) => this.flushGroup(p, x)));
      } finally {
        p.blocked--;
      }
    }
  }

  /** Accepts every group that has waited maxDelayMs (called from a timer). */
  async flushDue(): Promise<void> {
    const now = this.clock();
    const due: Promise<void>[] = [];
    for (const p of this.partitions.values()) {
      if (p.blocked > 0) continue;
      for (const g of p.groups.values()) if (now - g.openedAt >= this.opts.maxDelayMs) due.push(this.flushGroup(p, g));
    }
    await Promise.all([...due, this.commitSettled()]);
  }

  /** Accepts every open group now (graceful shutdown), then waits for every accept in flight. */
  async flushAll(): Promise<void> {
    const all: Promise<void>[] = [];
    for (const p of this.partitions.values()) for (const g of p.groups.values()) all.push(this.flushGroup(p, g));
    await Promise.all([...all, ...this.inFlight]);
    await this.commitSettled();
  }

  /**
   * Partitions were revoked or reassigned (rebalance): forget every open group and unsettled record. The group
   * re-delivers everything after its committed offsets; accepts still in flight finish but commit nothing.
   */
  revokeAll(): void {
    this.generation++;
    this.partitions = new Map();
    this.opts.metrics?.pending(0);
  }

  /** Stops retrying accept(): what is not accepted stays uncommitted and is re-delivered to the next consumer. */
  stop(): void {
    this.stopping = true;
  }

  private state(topic: string, partition: number): PartitionState {
    const k = `${topic}/${partition}`;
    let p = this.partitions.get(k);
    if (!p) {
      p = { topic, partition, tracked: [], byOffset: new Map(), highestSeen: -1n, commitTarget: null, committed: null, groups: new Map(), blocked: 0 };
      this.partitions.set(k, p);
    }
    return p;
  }

  private track(p: PartitionState, offset: bigint, done: boolean): void {
    const t = { offset, done };
    p.tracked.push(t);
    p.byOffset.set(offset, t);
    p.highestSeen = offset;
  }

  private flushGroup(p: PartitionState, g: Group): Promise<void> {
    if (p.groups.get(g.key) !== g) return Promise.resolve(); // already flushing / flushed
    p.groups.delete(g.key);
    const run = this.acceptGroup(p, g);
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  private async acceptGroup(p: PartitionState, g: Group): Promise<void> {
    const generation = this.generation;
    const first = g.offsets[0];
    const last = g.offsets[g.offsets.length - 1];
    const request: WarmingIntakeRequest = {
      source: g.source,
      scheduleName: g.scheduleName,
      priority: g.priority,
      strategy: 'INTELLIGENT',
      operations: g.operations,
      memberIds: [...g.memberIds],
      ...(g.notBeforeMs !== null ? { notBeforeMs: g.notBeforeMs } : {}),
      horizonUntilMs: g.horizonUntilMs,
      dedupeKey: `${g.topic}/${g.partition}/${String(first)}-${String(last)}/${g.priority}/${g.bucketLabel}/${g.source}/${g.operations.length > 0 ? g.operations.join('+') : 'all'}`,
    };
    let backoff = this.opts.acceptRetryInitialMs ?? 500;
    let refused = false;
    for (;;) {
      if (generation !== this.generation) return;
      try {
        await this.opts.intake.accept(request);
        break;
      } catch (err) {
        if (isPermanentRefusal(err)) {
          // The intake validated the request and said no (RangeError): retrying cannot help; dead-letter the
          // group's records with the reason so the partition moves on.
          this.opts.logger?.warn({ err: errMessage(err), dedupeKey: request.dedupeKey, members: request.memberIds.length }, 'member-cron consumer: warming intake refused a group; dead-lettering its records');
          try {
            for (const r of g.records) {
              await this.opts.deadLetter(r, `warming intake refused the group: ${errMessage(err)}`);
              this.opts.metrics?.deadLettered();
            }
            refused = true;
            break;
          } catch (dlqErr) {
            this.opts.logger?.warn({ err: errMessage(dlqErr) }, 'member-cron consumer: dead-letter write failed; retrying');
          }
        }
        this.opts.metrics?.acceptFailed();
        this.opts.logger?.warn({ err: errMessage(err), dedupeKey: request.dedupeKey, members: request.memberIds.length }, 'member-cron consumer: warming intake refused a group; retrying (offsets stay uncommitted)');
        if (this.stopping) return;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.acceptRetryMaxMs ?? 30_000);
      }
    }
    if (generation !== this.generation) return;
    if (!refused) this.opts.metrics?.groupAccepted(g.priority, request.memberIds.length);
    for (const o of g.offsets) {
      const t = p.byOffset.get(o);
      if (t) t.done = true;
    }
    this.opts.metrics?.pending(this.pendingEvents());
    this.advance(p);
    await this.commitSettled();
  }

  /** Pops the settled prefix of a partition: its commit target moves past it. */
  private advance(p: PartitionState): void {
    let i = 0;
    while (i < p.tracked.length && p.tracked[i]?.done) {
      const t = p.tracked[i] as Tracked;
      p.byOffset.delete(t.offset);
      p.commitTarget = t.offset + 1n;
      i++;
    }
    if (i > 0) p.tracked.splice(0, i);
  }

  /**
   * Commits every partition's settled prefix not committed yet (after each accepted group, and from the timer so
   * runs of skipped records are committed too). Serialised; a failed commit is retried by the next call.
   */
  commitSettled(): Promise<void> {
    const generation = this.generation;
    this.commitChain = this.commitChain.then(async () => {
      if (generation !== this.generation) return;
      const due = [...this.partitions.values()].filter((p) => p.commitTarget !== null && (p.committed === null || p.commitTarget > p.committed));
      if (due.length === 0) return;
      const targets = due.map((p) => ({ p, target: p.commitTarget as bigint }));
      try {
        await this.opts.commit(targets.map(({ p, target }) => ({ topic: p.topic, partition: p.partition, offset: String(target) })));
        if (generation !== this.generation) return;
        for (const { p, target } of targets) p.committed = target;
      } catch (err) {
        this.opts.logger?.warn({ err: errMessage(err), partitions: targets.length }, 'member-cron consumer: offset commit failed; the next commit covers it');
      }
    });
    return this.commitChain;
  }
}
