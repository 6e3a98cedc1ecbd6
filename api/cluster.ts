import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';

export interface ApiClusterOptions {
  /** API processes to keep running (API_PROCESSES). */
  processes: number;
  logger: Logger;
  /** How long the processes get to drain after SIGTERM before the primary gives up on them. */
  graceMs: number;
  /** Delay before a replacement of a process that died is started (crash-loop brake). */
  restartDelayMs?: number;
}

/**
 * API_PROCESSES > 1 (issue 14, docs/scaling.md): the process started as api/main.ts becomes a small supervisor (the
 * node:cluster primary) that forks `processes` copies of itself. Every copy runs the whole API (its own Redis,
 * Temporal and PostgreSQL connections) and listens on the same API_PORT: every live copy accepts connections from
 * the one listening socket (SCHED_NONE, see below), so clients keep one URL. A copy that dies is replaced; a copy that dies
 * before it ever listened stops the whole API (a bad configuration must fail `stack up`, not crash-loop). SIGTERM or
 * SIGINT to the primary makes every copy drain as a single API would, each signalled once (see `announceDraining`).
 *
 * Returns 'primary' in the supervisor (the caller must not start the API there) and 'api' in a copy, or when
 * `processes` is 1 (no cluster at all: the behaviour of a single API process is unchanged).
 */
const DRAINING_MESSAGE = 'rte-api-draining';
const METRICS_REQUEST = 'rte-api-metrics-request';
const METRICS_ANSWER = 'rte-api-metrics-answer';
const METRICS_TIMEOUT_MS = 8_000;

interface MetricsAnswer {
  type: typeof METRICS_ANSWER;
  id: number;
  text?: string;
  error?: string;
}

/**
 * /metrics of an API process under the cluster: a scrape reaches whichever copy the primary hands the connection to,
 * so each copy answers with the metrics of ALL copies, which the primary collects over IPC (prom-client's
 * AggregatorRegistry: counters and histograms summed, gauges as each metric's `aggregator` says). Returns undefined
 * outside a cluster (the process serves its own registry, as before).
 */
export function clusterMetricsText(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker) return undefined;
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener that answers the primary's collection requests.
  new AggregatorRegistry();
  let next = 0;
  const pending = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  process.on('message', (m: unknown) => {
    const a = m as Partial<MetricsAnswer> | null;
    if (a?.type !== METRICS_ANSWER || typeof a.id !== 'number') return;
    const p = pending.get(a.id);
    if (!p) return;
    pending.delete(a.id);
    if (typeof a.text === 'string') p.resolve(a.text);
    else p.reject(new Error(`metrics of the api processes could not be collected: ${a.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('metrics of the api processes were not collected in time'));
      }, METRICS_TIMEOUT_MS);
      pending.set(id, {
        resolve: (t) => (clearTimeout(timer), resolve(t)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      process.send?.({ type: METRICS_REQUEST, id });
    });
}
const FORWARD_DELAY_MS = 1_000;

/** In an API copy under the cluster: tells the primary when this copy got a shutdown signal itself. */
export function announceDraining(): void {
  if (!cluster.isWorker) return;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.send?.({ type: DRAINING_MESSAGE }));
}

export function startApiCluster(opts: ApiClusterOptions): 'primary' | 'api' {
  if (opts.processes <= 1 || !cluster.isPrimary) return 'api';
  const { logger } = opts;
  const restartDelayMs = opts.restartDelayMs ?? 1_000;
  let stopping = false;
  let exitCode = 0;
  const listened = new WeakSet<Worker>();

  // How connections reach the copies. Node's default (round-robin: the primary accepts each connection and passes it to
  // a copy over IPC) loses a connection handed to a copy that dies before it acknowledged it: the primary keeps the
  // socket open and never passes it on, so that client waits for an answer that never comes (a client without a
  // deadline waits forever). Measured on Node 22: one such connection per SIGKILLed copy while clients connect; none
  // with SCHED_NONE, where every copy accepts from the one shared listening socket itself and the kernel closes what a
  // dead copy had accepted (the client sees a reset and retries). An operator may still choose with Node's own
  // NODE_CLUSTER_SCHED_POLICY ('rr' or 'none'); Node reads it when node:cluster loads.
  // Node reads any other value as round-robin without a word: a typo ('None') would bring the lost connections back.
  const policy = process.env['NODE_CLUSTER_SCHED_POLICY'];
  if (policy !== undefined && policy !== 'rr' && policy !== 'none') throw new Error(`NODE_CLUSTER_SCHED_POLICY must be 'rr' or 'none' (or unset: 'none'), got '${policy}'`);
  if (policy === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;

  const fork = () => {
    const w = cluster.fork();
    logger.info({ apiPid: w.process.pid }, 'api cluster: started an api process');
  };
  cluster.on('listening', (w) => void listened.add(w));
  cluster.on('exit', (w, code, signal) => {
    const alive = Object.values(cluster.workers ?? {}).filter((x) => x && !x.isDead()).length;
    if (stopping) {
      if (alive === 0) {
        logger.info('api cluster: every api process has stopped');
        process.exit(exitCode);
      }
      return;
    }
    if (!listened.has(w)) {
      logger.fatal({ apiPid: w.process.pid, code, signal }, 'api cluster: an api process exited before it listened; stopping');
      stopping = true;
      exitCode = 1;
      for (const x of Object.values(cluster.workers ?? {})) if (x && !x.isDead()) x.process.kill('SIGTERM');
      setTimeout(() => process.exit(1), opts.graceMs + 5_000).unref();
      if (alive === 0) process.exit(1);
      return;
    }
    logger.warn({ apiPid: w.process.pid, code, signal, alive }, 'api cluster: an api process exited; starting a replacement');
    setTimeout(fork, restartDelayMs);
  });
  // A copy that got the signal itself (sent to the whole process group: a terminal's Ctrl-C, systemd, `timeout`) says
  // so; it must not get a second one, which would cut its drain short. The others get SIGTERM from here.
  const draining = new WeakSet<Worker>();
  // A copy asked for everyone's metrics (clusterMetricsText): collect them from every copy and answer it.
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (w, m: unknown) => {
    const type = (m as { type?: unknown } | null)?.type;
    if (type === DRAINING_MESSAGE) draining.add(w);
    if (type === METRICS_REQUEST) {
      const id = (m as { id: number }).id;
      aggregator.clusterMetrics().then(
        (text) => w.isConnected() && w.send({ type: METRICS_ANSWER, id, text } satisfies MetricsAnswer),
        (err: unknown) => w.isConnected() && w.send({ type: METRICS_ANSWER, id, error: err instanceof Error ? err.message : String(err) } satisfies MetricsAnswer),
      );
    }
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api cluster: stopping');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) if (w && !w.isDead() && !draining.has(w)) w.process.kill('SIGTERM');
    }, FORWARD_DELAY_MS);
    setTimeout(() => {
      logger.error('api cluster: api processes did not stop within the grace time');
      process.exit(1);
    }, opts.graceMs + 5_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < opts.processes; i++) fork();
  logger.info({ processes: opts.processes }, 'api cluster: primary started');
  return 'primary';
}
