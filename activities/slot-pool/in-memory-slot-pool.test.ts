import { createInMemorySlotPool } from './in-memory-slot-pool';
import type { SlotLease } from './types';

describe('in-memory slot pool (single-process fake with the same rules)', () => {
  it('grants interactive before batch, serves weighted batch clients 2:1 and never exceeds the limit', async () => {
    const pool = createInMemorySlotPool({ limit: 1, reservedInteractive: 0, adaptive: false, clientWeights: { lab: 2, pharmacy: 1 } });
    const holder = await pool.acquire({ kind: 'interactive' });
    const order: string[] = [];
    let inFlight = 0;
    let peak = 0;
    const record = async (lease: SlotLease): Promise<void> => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      order.push(lease.kind === 'interactive' ? 'interactive' : lease.queue);
      await Promise.resolve();
      inFlight--;
    };
    const runs = [
      ...Array.from({ length: 6 }, () => pool.withSlot({ kind: 'batch', clientService: 'lab' }, record)),
      ...Array.from({ length: 3 }, () => pool.withSlot({ kind: 'batch', clientService: 'pharmacy' }, record)),
      pool.withSlot({ kind: 'interactive' }, record),
    ];
    await holder.release();
    await Promise.all(runs);
    expect(peak).toBe(1);
    expect(order[0]).toBe('interactive');
    // Quanta 4 (2 × NORMAL) and 2 (1 × NORMAL): one DRR round is 4 lab grants then 2 pharmacy grants.
    expect(order.slice(1, 7)).toEqual([...Array(4).fill('batch:lab:NORMAL'), ...Array(2).fill('batch:pharmacy:NORMAL')]);
  });

  it('keeps reserved slots for interactive users and times out waiting callers', async () => {
    const pool = createInMemorySlotPool({ limit: 3, reservedInteractive: 1, adaptive: false });
    const batch = [await pool.acquire({ kind: 'batch', clientService: 'lab' }), await pool.acquire({ kind: 'batch', clientService: 'lab' })];
    await expect(pool.acquire({ kind: 'batch', clientService: 'lab' }, { timeoutMs: 10 })).rejects.toMatchObject({ name: 'SlotAcquireTimeoutError' });
    const interactive = await pool.acquire({ kind: 'interactive' });
    expect(await pool.stats()).toMatchObject({ interactiveInUse: 1, batchInUse: 2 });
    await Promise.all([...batch, interactive].map((l) => l.release()));
  });
});
