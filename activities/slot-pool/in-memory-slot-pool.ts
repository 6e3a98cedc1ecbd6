import { randomUUID } from 'node:crypto';
import { adaptiveBatchCapTable, DEFAULT_ADAPTIVE_BATCH_CONFIG, defaultReservedInteractive, type AdaptiveBatchConfig } from '../../lib/adaptive-rate';
import { DEFAULT_PRIORITY_WEIGHTS, EMPTY_WDRR_STATE, quantumForWeight, wdrrPick, type BatchPriority, type WdrrState } from '../../lib/wdrr';
import { slotQueueId } from './redis-slot-pool';
import {
  SlotAcquireTimeoutError,
  SlotPoolClosedError,
  type AcquireOptions,
  type SlotKind,
  type SlotLease,
  type SlotPool,
  type SlotPoolMetrics,
  type SlotPoolStats,
  type SlotRequest,
} from './types';

export interface InMemorySlotPoolOptions {
  readonly limit?: number;
  readonly reservedInteractive?: number;
  readonly acquireTimeoutMs?: number;
  readonly clientWeights?: Readonly<Record<string, number>>;
  readonly defaultClientWeight?: number;
  readonly priorityWeights?: Readonly<Record<BatchPriority, number>>;
  readonly adaptive?: AdaptiveBatchConfig | false;
  readonly metrics?: SlotPoolMetrics;
}

interface Waiter {
  readonly queue: string;
  readonly kind: SlotKind;
  grant(): void;
}

/**
 * Single-process slot pool with the same scheduling rules as the Redis pool (interactive first, reserved
 * interactive slots, adaptive batch cap, WDRR between batch queues). For unit tests of activities and for
 * running one worker without Redis; it does not coordinate across processes.
 */
export function createInMemorySlotPool(o: InMemorySlotPoolOptions = {}): SlotPool {
  const limit = o.limit ?? 15;
  const reserved = o.reservedInteractive ?? defaultReservedInteractive(limit);
  const caps =
    o.adaptive === false
      ? Array.from({ length: limit + 1 }, () => limit - reserved)
      : adaptiveBatchCapTable(limit, reserved, o.adaptive ?? DEFAULT_ADAPTIVE_BATCH_CONFIG);
  const priorityWeights = o.priorityWeights ?? DEFAULT_PRIORITY_WEIGHTS;
  const metrics = o.metrics ?? {};
  const queues = new Map<string, Waiter[]>();
  const quanta = new Map<string, number>();
  let wdrr: WdrrState = EMPTY_WDRR_STATE;
  let interactive = 0;
  let batch = 0;
  let closed = false;

  const gauge = (): void => metrics.slotsInUse?.({ interactive, batch, total: interactive + batch });

  function schedule(): void {
    while (interactive + batch < limit) {
      const iq = queues.get('interactive');
      if (iq && iq.length > 0) {
        interactive++;
        iq.shift()!.grant();
        continue;
      }
      if (batch >= limit - reserved || batch >= (caps[interactive] ?? 0)) break;
      const active = [...queues.entries()].filter(([id, q]) => id !== 'interactive' && q.length > 0).map(([id]) => ({ id, quantum: quanta.get(id)! }));
      const d = wdrrPick(active, wdrr);
      wdrr = d.state;
      if (d.pick === null) break;
      batch++;
      queues.get(d.pick)!.shift()!.grant();
    }
    gauge();
  }

  function makeLease(queue: string, kind: SlotKind, startedAt: number): SlotLease {
    let released = false;
    const controller = new AbortController();
    return {
      id: randomUUID(),
      queue,
      kind,
      signal: controller.signal,
      release: () => {
        if (!released) {
          released = true;
          if (kind === 'interactive') interactive--;
          else batch--;
          metrics.onRelease?.(queue, kind, Date.now() - startedAt);
          schedule();
        }
        return Promise.resolve();
      },
    };
  }

  const pool: SlotPool = {
    acquire(request: SlotRequest, options: AcquireOptions = {}): Promise<SlotLease> {
      if (closed) return Promise.reject(new SlotPoolClosedError());
      const queue = slotQueueId(request);
      if (request.kind === 'batch') {
        const w = (o.clientWeights?.[request.clientService] ?? o.defaultClientWeight ?? 1) * priorityWeights[request.priority ?? 'NORMAL'];
        quanta.set(queue, quantumForWeight(w));
      }
      if (options.signal?.aborted) return Promise.reject(options.signal.reason);
      const startedAt = Date.now();
      return new Promise<SlotLease>((resolve, reject) => {
        const list = queues.get(queue) ?? [];
        queues.set(queue, list);
        const remove = (): void => {
          const i = list.indexOf(waiter);
          if (i >= 0) list.splice(i, 1);
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = (): void => {
          remove();
          reject(options.signal?.reason);
        };
        const timer = setTimeout(() => {
          remove();
          metrics.onAcquireTimeout?.(queue, request.kind, Date.now() - startedAt);
          reject(new SlotAcquireTimeoutError(queue, Date.now() - startedAt));
        }, options.timeoutMs ?? o.acquireTimeoutMs ?? 120_000);
        const waiter: Waiter = {
          queue,
          kind: request.kind,
          grant: () => {
            clearTimeout(timer);
            options.signal?.removeEventListener('abort', onAbort);
            metrics.onAcquire?.(queue, request.kind, Date.now() - startedAt);
            resolve(makeLease(queue, request.kind, startedAt));
          },
        };
        options.signal?.addEventListener('abort', onAbort, { once: true });
        list.push(waiter);
        schedule();
      });
    },
    async withSlot<T>(request: SlotRequest, fn: (lease: SlotLease) => Promise<T>, options?: AcquireOptions): Promise<T> {
      const lease = await pool.acquire(request, options);
      try {
        return await fn(lease);
      } finally {
        await lease.release();
      }
    },
    stats(): Promise<SlotPoolStats> {
      const waiting: Record<string, number> = {};
      for (const [id, q] of queues) if (q.length > 0 || id === 'interactive') waiting[id] = q.length;
      return Promise.resolve({ limit, interactiveInUse: interactive, batchInUse: batch, waiting });
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
  return pool;
}
