/**
 * Group commit: callers add one item each and wait for it; items that arrive while a write is in flight go out
 * together in the next write. No timer and no added wait: an idle writer writes at once, a busy one gathers what
 * arrived meanwhile (issue 14: a chunk's members share their cache writes and outcome records).
 *
 * `write` settles every item of its group: result[k] for items[k]. A write that throws rejects its whole group with
 * that error (callers retry as they would a write of their own).
 */
export interface GroupCommit<I, O> {
  add(item: I): Promise<O>;
}

export function createGroupCommit<I, O>(write: (items: I[]) => Promise<PromiseSettledResult<O>[]>, opts: { maxItems: number }): GroupCommit<I, O> {
  interface Pending {
    item: I;
    resolve: (o: O) => void;
    reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  let writing = false;

  const drain = async (): Promise<void> => {
    writing = true;
    try {
      while (queue.length > 0) {
        const group = queue.slice(0, opts.maxItems);
        queue = queue.slice(group.length);
        try {
          const settled = await write(group.map((p) => p.item));
          group.forEach((p, k) => {
            const s = settled[k];
            if (!s) p.reject(new Error('group commit: no result for an item'));
            else if (s.status === 'fulfilled') p.resolve(s.value);
            else p.reject(s.reason);
          });
        } catch (err) {
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      writing = false;
    }
  };

  return {
    add(item: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!writing) void drain();
      });
    },
  };
}
