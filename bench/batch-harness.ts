import { fromBinary } from '@bufbuild/protobuf';
import { createClient, type Client as RpcClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { Client as TemporalClient } from '@temporalio/client';
import { temporal as temporal_ } from '@temporalio/proto';
import { Kafka, logLevel } from 'kafkajs';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createEventConsumer, createKafkaEventPublisher } from '../activities/kafka';
import { BatchEligibilityService, BatchStatus, type GetBatchStatusResponse } from '../gen/rte/v1/batch_pb';
import { BatchJobEventSchema, type BatchJobEvent } from '../gen/rte/v1/events_pb';
import { EventHeaders, Topics } from '../lib/kafka-topics';
import { SIM_PATHS, type SimStats, type StediSim } from '../stedi-sim/server';
import type { TestPlatform } from '../test/helpers/platform';

/**
 * Helpers for the batch integration tests and benches. They drive the REAL platform started by
 * `startTestPlatform` (test/helpers/platform.ts: Temporal dev server, Redis slot pool and cache, PostgreSQL
 * directory and batch stores, Kafka, the real API) from the outside, the way a client, an operator or a crashed
 * pod would: Batch RPC clients, a Kafka consumer of the batch events, worker processes, and the simulator's stats.
 * Nothing here stands in for a platform component.
 */

export const BATCH_SCOPES = ['rte:batch:submit', 'rte:batch:read', 'rte:batch:cancel'];

export type BatchClient = RpcClient<typeof BatchEligibilityService>;

/** A BatchEligibilityService client on the platform's API, authenticated as `service`. */
export async function batchClient(p: TestPlatform, service: string, scopes: string[] = BATCH_SCOPES): Promise<BatchClient> {
  const token = await p.token(scopes, service);
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  return createClient(BatchEligibilityService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1', interceptors: [auth] }));
}

export const TERMINAL_STATUSES: ReadonlySet<BatchStatus> = new Set([
  BatchStatus.COMPLETED,
  BatchStatus.PARTIALLY_COMPLETED,
  BatchStatus.FAILED,
  BatchStatus.CANCELLED,
]);

/** Polls GetBatchStatus until the batch is terminal; returns the final answer. */
export async function waitForBatchEnd(client: BatchClient, batchId: string, timeoutMs: number, pollMs = 250): Promise<GetBatchStatusResponse> {
  let last: GetBatchStatusResponse | undefined;
  await waitFor(`batch ${batchId} to end`, async () => {
    last = await client.getBatchStatus({ batchId, errorsPageSize: 1 });
    return TERMINAL_STATUSES.has(last.status);
  }, timeoutMs, pollMs);
  return last!;
}

/** Every error of a batch, following GetBatchStatus's error pages. */
export async function allBatchErrors(client: BatchClient, batchId: string): Promise<GetBatchStatusResponse['errors']> {
  const out: GetBatchStatusResponse['errors'] = [];
  let token = '';
  for (;;) {
    const r = await client.getBatchStatus({ batchId, errorsPageSize: 1000, errorsPageToken: token });
    out.push(...r.errors);
    if (!r.nextErrorsPageToken) return out;
    token = r.nextErrorsPageToken;
  }
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

// ---- what Stedi saw ------------------------------------------------------------------------------------------

export interface SimCounts {
  /** Most real-time checks in flight at once (since the sim started or its stats were reset). */
  peakInFlight: number;
  /** Real-time eligibility requests, any answer. */
  realtimeCalls: number;
  /** Stedi batches accepted (HTTP 200). */
  batchesAccepted: number;
  /** Items in accepted batches. */
  batchItems: number;
  /** Batch submissions refused because a batch with that name exists (a resubmission after a lost answer). */
  batchNameConflicts: number;
  /** Every request to the Stedi API (real-time, batch submit, polling, batch status), any answer. */
  stediRequests: number;
}

export function simCounts(sim: StediSim): SimCounts {
  return simCountsOf(sim.stats());
}

/** simCounts from a stats snapshot (e.g. GET /__sim/stats of a simulator in another process). */
export function simCountsOf(st: SimStats): SimCounts {
  const sum = (byStatus: Record<string, number> | undefined) => Object.values(byStatus ?? {}).reduce((a, b) => a + b, 0);
  return {
    peakInFlight: st.inFlight.peak,
    realtimeCalls: sum(st.calls[`POST ${SIM_PATHS.eligibilityV3}`]),
    batchesAccepted: st.batches.submitted,
    batchItems: st.batches.items,
    batchNameConflicts: st.calls[`POST ${SIM_PATHS.batchEligibility}`]?.['409'] ?? 0,
    stediRequests: Object.values(st.calls).reduce((n, byStatus) => n + sum(byStatus), 0),
  };
}

// ---- Kafka: what a subscriber of the batch events sees ----------------------------------------------------

export interface ReceivedBatchEvent {
  key: string | null;
  eventId: string | undefined;
  schema: string | undefined;
  event: BatchJobEvent;
}

export interface BatchEventSubscriber {
  events: ReceivedBatchEvent[];
  /** Events whose Kafka key is this batch id, in the order they were consumed. */
  of(batchId: string): ReceivedBatchEvent[];
  stop(): Promise<void>;
}

/**
 * Subscribes to `domain.rte.v1.batch_job_events` on the real broker with its own consumer group (so it sees every
 * event from now on) through the platform's consumer library. Resolves once the group is joined.
 */
export async function subscribeToBatchEvents(p: TestPlatform, groupId: string): Promise<BatchEventSubscriber> {
  const kafka = new Kafka({ clientId: groupId, brokers: p.config.kafka.brokers, logLevel: logLevel.NOTHING });
  const publisher = createKafkaEventPublisher(kafka);
  const events: ReceivedBatchEvent[] = [];
  const consumer = createEventConsumer({
    kafka,
    groupId,
    topic: Topics.batchJobEvents,
    dlqTopic: `${Topics.batchJobEvents}.${groupId}.dlq`,
    publisher,
    fromBeginning: false,
    handler: async (e) => {
      events.push({ key: e.key, eventId: e.eventId, schema: e.schema ?? e.headers[EventHeaders.schema], event: fromBinary(BatchJobEventSchema, e.value) });
    },
  });
  await consumer.start();
  await consumer.ready();
  return {
    events,
    of: (batchId) => events.filter((e) => e.key === batchId),
    stop: async () => {
      await consumer.stop();
      await publisher.close();
    },
  };
}

// ---- worker processes ----------------------------------------------------------------------------------------

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves when the worker logged that it polls the task queue. */
  ready: Promise<void>;
  exited: Promise<void>;
  /** SIGTERM (graceful drain), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Resolves with `pick(line)` for the first line of a child's stdout that `pick` gives a value for; rejects if the child
 * exits first (or after `timeoutMs`). Its stdout keeps being read (and dropped) afterwards, so the child never blocks
 * on a full pipe.
 */
function firstLine<T>(child: ChildProcess, what: string, pick: (line: string) => T | undefined, timeoutMs?: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const v = pick(line);
      if (v !== undefined) resolve(v);
    });
    child.once('exit', (code, signal) => reject(new Error(`${what} process exited (${code ?? signal}) before it started`)));
    if (timeoutMs !== undefined) setTimeout(() => reject(new Error(`${what} process not ready within ${timeoutMs / 1000} s`)), timeoutMs).unref();
  });
}

/**
 * Starts `workers/main.ts` — the production worker entry point — as its own OS process, wired to the platform's
 * simulator, Redis key prefix, task queue and PostgreSQL schema. `env` overrides or adds settings (e.g. a different
 * STEDI_BASE_URL, WEBHOOK_SECRETS).
 */
export function spawnWorkerProcess(p: TestPlatform, env: Record<string, string> = {}): WorkerProcess {
  const root = path.resolve(__dirname, '..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      STEDI_BASE_URL: p.config.stedi.baseUrl,
      REDIS_KEY_PREFIX: p.config.redisKeyPrefix,
      TEMPORAL_TASK_QUEUE: p.config.temporal.taskQueue,
      CACHE_KEY_SECRET: p.config.cache.keySecret,
      DATABASE_SCHEMA: p.directory.schema,
      WORKER_METRICS_PORT: '0',
      WORKER_SDK_METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = firstLine(child, 'worker', (line) => (line.includes('"worker started"') ? true : undefined)).then(() => undefined);
  ready.catch(() => undefined);
  return {
    child,
    ready,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The Stedi simulator (`stedi-sim/main.ts`) as its own OS process, as a remote Stedi would be; stats over HTTP. */
export interface SimProcess {
  url: string;
  child: ChildProcess;
  stats(): Promise<SimStats>;
  resetStats(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `stedi-sim/main.ts` on a random port with `env` (STEDI_SIM_* settings, see stedi-sim/README.md). */
export async function spawnSimProcess(env: Record<string, string> = {}): Promise<SimProcess> {
  const root = path.resolve(__dirname, '..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'stedi-sim/main.ts'], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', STEDI_SIM_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await firstLine(child, 'stedi-sim', (line) => (line.includes('"stedi-sim ready"') ? (JSON.parse(line) as { url: string }).url : undefined), 60_000).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  const call = async (method: string, route: string): Promise<unknown> => {
    const res = await fetch(`${url}${route}`, { method });
    if (!res.ok) throw new Error(`stedi-sim ${method} ${route}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    url,
    child,
    stats: async () => (await call('GET', '/__sim/stats')) as SimStats,
    resetStats: async () => void (await call('POST', '/__sim/stats/reset')),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---- Temporal history ------------------------------------------------------------------------------------------

/** History events of a workflow id summed over all its runs (continue-as-new included). */
export async function historyEvents(temporal: TemporalClient, workflowId: string): Promise<{ events: number; runs: number; byType: Record<string, number> }> {
  let events = 0;
  let runs = 0;
  const byType: Record<string, number> = {};
  for await (const w of temporal.workflow.list({ query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'` })) {
    const history = await temporal.workflow.getHandle(workflowId, w.runId).fetchHistory();
    events += history.events?.length ?? 0;
    runs += 1;
    for (const e of history.events ?? []) {
      const t = (temporal_.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '');
      byType[t] = (byType[t] ?? 0) + 1;
    }
  }
  return { events, runs, byType };
}
