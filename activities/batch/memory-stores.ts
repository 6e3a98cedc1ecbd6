import type { BatchErrorStore, BatchOutcomeStore, MemberListStore, StoredBatchError, StoredMemberOutcome } from './ports';

/** In-memory MemberListStore for tests and the single-process dev profile. */
export function createInMemoryMemberListStore(): MemberListStore & { size(listRef: string): number } {
  const lists = new Map<string, Map<number, string>>();
  return {
    async write(listRef, start, ids) {
      const l = lists.get(listRef) ?? new Map<number, string>();
      ids.forEach((id, i) => {
        if (!l.has(start + i)) l.set(start + i, id);
      });
      lists.set(listRef, l);
    },
    async read(listRef, start, count) {
      const l = lists.get(listRef);
      const out: string[] = [];
      if (!l) return out;
      for (let i = start; i < start + count; i++) {
        const id = l.get(i);
        if (id === undefined) break;
        out.push(id);
      }
      return out;
    },
    async readAt(listRef, indexes) {
      const l = lists.get(listRef);
      const out = new Map<number, string>();
      for (const i of indexes) {
        const id = l?.get(i);
        if (id !== undefined) out.set(i, id);
      }
      return out;
    },
    async delete(listRef) {
      lists.delete(listRef);
    },
    size(listRef) {
      return lists.get(listRef)?.size ?? 0;
    },
  };
}

export function createInMemoryBatchErrorStore(): BatchErrorStore {
  const byBatch = new Map<string, Map<number, StoredBatchError>>();
  return {
    async record(batchId, errors) {
      const m = byBatch.get(batchId) ?? new Map<number, StoredBatchError>();
      for (const e of errors) m.set(e.memberIndex, e);
      byBatch.set(batchId, m);
    },
    async page(batchId, afterIndex, limit) {
      const all = [...(byBatch.get(batchId)?.values() ?? [])].sort((a, b) => a.memberIndex - b.memberIndex);
      return { errors: all.filter((e) => e.memberIndex > afterIndex).slice(0, limit), total: all.length };
    },
  };
}

export function createInMemoryBatchOutcomeStore(now: () => number = Date.now): BatchOutcomeStore {
  let seq = 0;
  const rows: Array<StoredMemberOutcome & { batchId: string; seq: number; at: number }> = [];
  const keys = new Set<string>();
  return {
    async record(batchId, outcomes) {
      for (const o of outcomes) {
        const k = `${batchId}\u0000${o.memberIndex}`;
        if (keys.has(k)) continue;
        keys.add(k);
        rows.push({ ...o, batchId, seq: ++seq, at: now() });
      }
    },
    async read(batchId, afterSeq, limit) {
      return rows
        .filter((r) => r.batchId === batchId && r.seq > afterSeq)
        .slice(0, limit)
        .map(({ batchId: _b, at: _a, ...o }) => o);
    },
    async purge(olderThanMs) {
      const cutoff = now() - olderThanMs;
      let n = 0;
      for (let i = rows.length - 1; i >= 0; i--) {
        if (rows[i]!.at < cutoff) {
          keys.delete(`${rows[i]!.batchId}\u0000${rows[i]!.memberIndex}`);
          rows.splice(i, 1);
          n++;
        }
      }
      return n;
    },
  };
}
