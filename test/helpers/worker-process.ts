import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './own-redis';
import type { TestPlatform } from './platform';

/** A real worker process (workers/main.ts) on a test platform's task queue, Redis prefix, schema and simulator. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the process has exited (e.g. after a SIGKILL). */
  exited: Promise<void>;
  /** Throws (with the process's last stderr) if it has already exited; true otherwise. */
  alive(what: string): true;
  stderr(): string;
  readyAfterMs: number;
}

/**
 * Spawns workers/main.ts with the platform's connection settings plus `env`, and waits (up to 120 s) until its
 * /readyz answers. Shared by the worker-kill tests (member cron, cache warming).
 */
export async function startWorkerProcess(
  platform: TestPlatform,
  env: Record<string, string>,
  waitFor: (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => Promise<void>,
): Promise<WorkerProcess> {
  // Ports the kernel just handed out, not random ones: a random port in the ephemeral range could be taken by an
  // outgoing connection (slot-pool-workers.int once died on EADDRINUSE that way).
  const [metricsPort, sdkMetricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      STEDI_BASE_URL: platform.config.stedi.baseUrl,
      REDIS_KEY_PREFIX: platform.config.redisKeyPrefix,
      TEMPORAL_TASK_QUEUE: platform.config.temporal.taskQueue,
      CACHE_KEY_SECRET: platform.config.cache.keySecret,
      TEMPORAL_INTERACTIVE_TASK_QUEUE: platform.config.temporal.interactiveTaskQueue,
      DATABASE_SCHEMA: platform.directory.schema,
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_SDK_METRICS_PORT: String(sdkMetricsPort),
      // The member-cron consumer would join the shared topic's default group: off unless a test asks for it.
      MEMBER_CRON_CONSUMER_ENABLED: 'false',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  let exit: string | undefined;
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exit = `exit code ${code ?? '-'}, signal ${signal ?? '-'}`;
      r();
    }),
  );
  const alive = (what: string): true => {
    if (exit !== undefined) throw new Error(`the worker process died before ${what} (${exit}):\n${stderr}`);
    return true;
  };
  const started = Date.now();
  try {
    await waitFor(
      async () => alive('it was ready') && (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.ok, () => false)),
      120_000,
      'the worker process to be ready',
    );
  } catch (err) {
    // Never leave a half-started worker behind: it would keep polling and loading the machine for later tests.
    if (exit === undefined) child.kill('SIGKILL');
    throw err;
  }
  return { child, exited, alive, stderr: () => stderr, readyAfterMs: Date.now() - started };
}
