import type { Admin } from 'kafkajs';
import type { ConsumerGroupLag, WatchedGroup } from '../../lib/ops-gauges';

/**
 * Lag of consumer groups (log end offset minus committed offset, summed over partitions), read with the Kafka
 * admin API so it covers every member of the group, wherever it runs. A group that never committed on a
 * topic reports `undefined` (nothing to compare; the gauge omits it).
 */
export function createConsumerLagReader(admin: Admin, watched: readonly WatchedGroup[]): () => Promise<ConsumerGroupLag[]> {
  return async () => {
    const out: ConsumerGroupLag[] = [];
    for (const w of watched) {
      const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(w.topic), admin.fetchOffsets({ groupId: w.group, topics: [w.topic] })]);
      const endByPartition = new Map(ends.map((p) => [p.partition, Number(p.high)]));
      let lag = 0;
      let any = false;
      for (const t of committed) {
        for (const p of t.partitions) {
          const c = Number(p.offset);
          if (!(c >= 0)) continue;
          any = true;
          lag += Math.max(0, (endByPartition.get(p.partition) ?? c) - c);
        }
      }
      out.push({ group: w.group, topic: w.topic, lag: any ? lag : undefined });
    }
    return out;
  };
}
