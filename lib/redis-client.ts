import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { AppConfig } from './config';

/**
 * The one place that builds the platform's Redis connections (docs/scaling.md, "Redis: Redis Cluster and hash
 * tags"). With REDIS_CLUSTER_NODES set it is an ioredis `Cluster` on those seeds, otherwise a single connection to
 * REDIS_URL. Everything that takes a connection accepts either (`RedisClient`), and every script, transaction and
 * pipeline the platform sends stays inside one cluster slot (a hash tag, or one key per call on a cluster).
 * A `duplicate()` of the client (the slot pool's grant-channel subscriber) is of the same kind.
 */
export type RedisClient = Redis | Cluster;

/** True for an ioredis Cluster client (multi-key commands must stay inside one slot). */
export function isClusterClient(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/**
 * REDIS_URL's credentials and TLS, applied to every cluster node (its host, port and db are ignored: a cluster has
 * only db 0, and the seeds come from REDIS_CLUSTER_NODES).
 */
function nodeOptionsFromUrl(redisUrl: string): RedisOptions {
  const u = new URL(redisUrl);
  const out: RedisOptions = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

/**
 * A Redis client for this deployment. `options` are per-connection settings (timeouts, retries, autopipelining);
 * on a cluster they apply to each node's connection, except `enableAutoPipelining`, which a cluster client never uses.
 */
export function createRedisClient(config: Pick<AppConfig, 'redisUrl' | 'redisClusterNodes'>, options: RedisOptions = {}): RedisClient {
  if (config.redisClusterNodes.length === 0) return new Redis(config.redisUrl, options);
  const { enableAutoPipelining: _notOnCluster, lazyConnect, ...nodeOptions } = options;
  // Auto-pipelining is a single-Redis optimisation only. On a Cluster, ioredis (5.x) batches auto-pipelined commands
  // per node and handles MOVED per pipeline: after a failover its commands kept answering MOVED and were never
  // re-routed (redis-cluster-failover.int: the API's reads failed for good in half the runs; ioredis issue 2075,
  // open). Without it every command follows MOVED on its own, and the reads came back within 5 s of the crash.
  const clusterOptions: ClusterOptions = {
    enableAutoPipelining: false,
    redisOptions: { ...nodeOptionsFromUrl(config.redisUrl), ...nodeOptions },
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    // Writes and reads go to the masters: the cache, claims and the slot pool must read their own writes.
    scaleReads: 'master',
  };
  return new Cluster(
    config.redisClusterNodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
}
