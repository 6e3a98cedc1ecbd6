import { createGroupCommit } from './group-commit';

describe('createGroupCommit', () => {
  it('writes at once when idle and gathers what arrives during a write into the next one', async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = createGroupCommit<number, string>(
      async (items) => {
        writes.push(items);
        if (writes.length === 1) await gate;
        return items.map((i) => ({ status: 'fulfilled', value: `v${i}` }));
      },
      { maxItems: 2 },
    );
    const first = g.add(1);
    const rest = [g.add(2), g.add(3), g.add(4)];
    release();
    expect(await first).toBe('v1');
    expect(await Promise.all(rest)).toEqual(['v2', 'v3', 'v4']);
    expect(writes).toEqual([[1], [2, 3], [4]]);
  });

  it('rejects only the items the write rejected, and a whole group when the write throws', async () => {
    let n = 0;
    const g = createGroupCommit<number, number>(
      async (items) => {
        if (++n === 1) throw new Error('store down');
        return items.map((i) => (i % 2 ? { status: 'fulfilled', value: i } : { status: 'rejected', reason: new Error(`bad ${i}`) }));
      },
      { maxItems: 10 },
    );
    await expect(g.add(1)).rejects.toThrow('store down');
    const [a, b] = await Promise.allSettled([g.add(3), g.add(4)]);
    expect(a).toEqual({ status: 'fulfilled', value: 3 });
    expect(b.status).toBe('rejected');
  });
});
