import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

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
 * Temporal and PostgreSQL connections) and listens on the same API_PORT: the primary accepts connections and hands
 * them round-robin to the live copies, so clients keep one URL. A copy that dies is replaced; a copy that dies
 * before it ever listened stops the whole API (a bad configuration must fail `stack up`, not crash-loop). SIGTERM or
 * SIGINT to the primary makes every copy drain as a single API would, each signalled once (see `announceDraining`).
 *
 * Returns 'primary' in the supervisor (the caller must not start the API there) and 'api' in a copy, or when
 * `processes` is 1 (no cluster at all: the behaviour of a single API process is unchanged).
 */
const DRAINING_MESSAGE = 'rte-api-draining';
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
  cluster.on('message', (w, m: unknown) => {
    if ((m as { type?: unknown } | null)?.type === DRAINING_MESSAGE) draining.add(w);
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
