/**
 * Screenshots of the Temporal Web UI for docs/img/ (issue 15): the workflow list with batches and cache-warming jobs
 * in each open state — RUNNING, WAITING (for a scheduling window), PENDING (before its first window) and PAUSED —
 * each showing its RteBatchStatus and RteBatchProgress columns, without a click.
 *
 *   source stack/env.sh
 *   flock /tmp/rte-int.lock npx tsx scripts/screenshots.ts [--ui http://127.0.0.1:8233] [--out docs/img/temporal-ui-states-list.png]
 *
 * Needs the infrastructure (`./stack/stack up --infra`: Temporal with its Web UI, Redis, PostgreSQL, Kafka) and
 * Debian's Chromium (/usr/bin/chromium, or CHROMIUM). It runs its own platform in-process (test/helpers/platform.ts:
 * a private directory schema, Redis prefix, task queue, the production worker composition, the API and the Stedi
 * simulator at 0.2× latency), creates the workflows, waits until each shows its state, photographs the list filtered to
 * its task queue through the Chrome DevTools Protocol (Node's WebSocket; no browser download), then cancels
 * everything it started. Windows are chosen from lib/batch/windows.ts against the wall clock in the members' zones.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { batchClient, waitFor } from '../bench/batch-harness';
import { BatchExecutionOptions_Strategy as Strategy, BatchStatus } from '../gen/rte/v1/batch_pb';
import { CacheControl } from '../gen/rte/v1/common_pb';
import { CacheWarmingService, WarmCacheRequest_Priority as Priority, WarmingStrategy } from '../gen/rte/v1/warming_pb';
import { WINDOW_TO_PROTO } from '../lib/batch/proto-mapping';
import { HOUR_WINDOWS, hourWindowSlot, isValidTimeZone, localParts, MINUTE_MS, scheduleMember, zonedTimeToUtc } from '../lib/batch/windows';
import { silentLogger } from '../lib/logger';
import { verdictFor } from '../stedi-sim/answers';
import { startTestPlatform } from '../test/helpers/platform';
import { batchStatusQuery, batchWorkflowId, pauseBatchSignal } from '../workflows/batch.defs';
import { cancelWarmingUpdate, pauseWarmingSignal, warmingStatusQuery } from '../workflows/warming.defs';

type HourWindowName = keyof typeof HOUR_WINDOWS;
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const UI = arg('ui', `http://127.0.0.1:${process.env['TEMPORAL_UI_PORT'] ?? '8233'}`);
const OUT = path.resolve(arg('out', 'docs/img/temporal-ui-states-list.png'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.log(JSON.stringify({ at: new Date().toISOString(), msg }));

/** A minimal Chrome DevTools Protocol session on a fresh headless Chromium (flags: see the machine notes). */
async function chromium(width: number, height: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rte-shots-'));
  const port = 9300 + Math.floor(Math.random() * 500);
  const exe = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'];
  const child = spawn(exe, [...flags, `--remote-debugging-port=${port}`, `--user-data-dir=${dir}`, `--window-size=${width},${height}`, 'about:blank'], { stdio: 'ignore' });
  let wsUrl: string | undefined;
  for (let i = 0; i < 100 && !wsUrl; i++) {
    try {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
      wsUrl = targets.find((t) => t.type === 'page')?.webSocketDebuggerUrl;
    } catch {
      // not up yet
    }
    if (!wsUrl) await sleep(200);
  }
  if (!wsUrl) throw new Error(`${exe} did not open its DevTools port`);
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  let seq = 0;
  const pending = new Map<number, (v: { result?: Record<string, unknown>; error?: unknown }) => void>();
  ws.addEventListener('message', (m) => {
    const d = JSON.parse(String(m.data)) as { id?: number; result?: Record<string, unknown>; error?: unknown };
    if (d.id !== undefined) pending.get(d.id)?.(d);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++seq;
      pending.set(id, (d) => (d.error ? reject(new Error(`${method}: ${JSON.stringify(d.error)}`)) : resolve(d.result ?? {})));
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Page.enable');
  await send('Runtime.enable');
  await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
  return {
    goto: async (url: string, waitMs: number) => {
      await send('Page.navigate', { url });
      await sleep(waitMs);
    },
    evaluate: (expression: string) => send('Runtime.evaluate', { expression, returnByValue: true }),
    shot: async (file: string) => writeFileSync(file, Buffer.from(String((await send('Page.captureScreenshot', { format: 'png' }))['data']), 'base64')),
    close: () => {
      ws.close();
      child.kill();
      // Chromium may still be writing its profile while it exits: best effort.
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
      } catch {
        // left in the temp dir
      }
    },
  };
}

async function main(): Promise<void> {
  const p = await startTestPlatform({ population: 1000, sim: { logger: silentLogger(), timeScale: 0.2 }, env: { BATCH_POLL_INITIAL_MS: '1000', BATCH_POLL_MAX_MS: '5000' } });
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const service = 'care-ops';
    const c = await batchClient(p, service);
    // rte:admin: the screenshot's member-cron-like job uses a platform source (reserved, api/services/warming-service.ts).
    const token = await p.token(['rte:warming:write', 'rte:warming:read', 'rte:admin'], 'care-ops');
    const warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
    const headers = { authorization: `Bearer ${token}` };
    const byZone = new Map<string, string[]>();
    for (const m of p.members) {
      if (!isValidTimeZone(m.timeZone) || verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'active') continue;
      byZone.set(m.timeZone, [...(byZone.get(m.timeZone) ?? []), m.memberId]);
    }
    const zones = [...byZone.keys()];
    const now = Date.now();
    const used = new Set<string>();
    const take = (zone: string, n: number) => {
      const out = (byZone.get(zone) ?? []).filter((id) => !used.has(id)).slice(0, n);
      out.forEach((id) => used.add(id));
      return out;
    };
    const any = (n: number) => {
      const out = p.members.map((m) => m.memberId).filter((id) => !used.has(id)).slice(0, n);
      out.forEach((id) => used.add(id));
      return out;
    };
    // Client job ids are single-use (SubmitBatch idempotency): a short run suffix keeps reruns apart.
    const day = `${new Date(now).toISOString().slice(5, 10)}-${Math.random().toString(36).slice(2, 6)}`;
    const cancelBatch = (batchId: string) => cleanup.push(() => c.cancelBatch({ batchId, reason: 'screenshots: done' }).catch(() => undefined));
    const cancelJob = (jobId: string) =>
      cleanup.push(() => p.temporal.workflow.getHandle(jobId).executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'screenshots: done' }] }).catch(() => undefined));

    // RUNNING: a real-time batch on 3 slots (Stedi at 0.2 × 13.5 s).
    const running = await c.submitBatch({ clientJobId: `nightly-eligibility-${day}`, memberSelector: { case: 'memberIds', value: { memberIds: any(150) } }, cacheControl: CacheControl.BYPASS_CACHE, options: { strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 3 } });
    cancelBatch(running.batchId);
    // PAUSED: another one, paused once it has done a few.
    const paused = await c.submitBatch({ clientJobId: `weekly-dental-refresh-${day}`, memberSelector: { case: 'memberIds', value: { memberIds: any(100) } }, cacheControl: CacheControl.BYPASS_CACHE, options: { strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 2 } });
    cancelBatch(paused.batchId);

    // WAITING: one member whose window is open now, one whose window opens ≥ 30 min later (another zone).
    for (const window of Object.keys(HOUR_WINDOWS) as HourWindowName[]) {
      const open = zones.find((z) => {
        const d = localParts(now, z);
        return hourWindowSlot(window, now, z).startMs === now && zonedTimeToUtc(z, d.year, d.month, d.day, HOUR_WINDOWS[window].endHour) - now >= 5 * MINUTE_MS;
      });
      // The closed zone with the most members (the PENDING batch below takes 20 of them).
      const closed = zones.filter((z) => hourWindowSlot(window, now, z).startMs - now >= 30 * MINUTE_MS).sort((a, b) => byZone.get(b)!.length - byZone.get(a)!.length)[0];
      if (!open || !closed) continue;
      let jobId = '';
      for (let i = 0; ; i++) {
        jobId = `eastern-western-overnight-${day}-${i}`;
        const at = Date.now();
        if (scheduleMember({ window, nowMs: at, timeZone: open, seed: batchWorkflowId(service, jobId), position: 0, groupSize: 2 }).atMs === at) break;
      }
      const w = await c.submitBatch({ clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds: [...take(open, 1), ...take(closed, 1)] } }, options: { strategy: Strategy.REALTIME_ONLY, schedulingWindow: WINDOW_TO_PROTO[window] } });
      cancelBatch(w.batchId);
      // PENDING: the closed zone alone, before its first window.
      const pending = await c.submitBatch({ clientJobId: `west-coast-${window.toLowerCase()}-${day}`, memberSelector: { case: 'memberIds', value: { memberIds: take(closed, 3) } }, options: { strategy: Strategy.REALTIME_ONLY, schedulingWindow: WINDOW_TO_PROTO[window] } });
      cancelBatch(pending.batchId);
      await waitFor('the WAITING batch', async () => (await c.getBatchStatus({ batchId: w.batchId })).status === BatchStatus.WAITING, 120_000, 500);
      break;
    }

    // Cache warming: URGENT real-time (RUNNING), BACKGROUND where LOW_UTILIZATION is closed (WAITING), and one paused.
    const urgent = await warming.warmCache({ memberIds: any(40), strategy: WarmingStrategy.FORCE, priority: Priority.URGENT, source: 'member-cron-daily-rte-warmup' }, { headers });
    cancelJob(urgent.warmingJobId);
    const lowClosed = zones.filter((z) => hourWindowSlot('LOW_UTILIZATION', now, z).startMs - now >= 30 * MINUTE_MS).sort((a, b) => byZone.get(b)!.length - byZone.get(a)!.length)[0];
    if (lowClosed) {
      const bg = await warming.warmCache({ memberIds: (byZone.get(lowClosed) ?? []).slice(0, 2), strategy: WarmingStrategy.INTELLIGENT, priority: Priority.BACKGROUND, source: 'weekly-refresh' }, { headers });
      cancelJob(bg.warmingJobId);
      const bg2 = await warming.warmCache({ memberIds: (byZone.get(lowClosed) ?? []).slice(-2), strategy: WarmingStrategy.INTELLIGENT, priority: Priority.BACKGROUND, source: 'appointment-preload' }, { headers });
      cancelJob(bg2.warmingJobId);
      const h = p.temporal.workflow.getHandle(bg2.warmingJobId);
      await waitFor('the BACKGROUND job to wait', async () => (await p.temporal.workflow.getHandle(bg.warmingJobId).query(warmingStatusQuery)).status === 'WAITING', 120_000, 500);
      await waitFor('the second BACKGROUND job to wait', async () => (await h.query(warmingStatusQuery)).status === 'WAITING', 120_000, 500);
      await h.signal(pauseWarmingSignal, { by: 'ops-oncall' });
      await waitFor('the paused warming job', async () => (await h.query(warmingStatusQuery)).status === 'PAUSED', 60_000, 500);
    } else log('LOW_UTILIZATION is open in every member zone now: no WAITING warming job in this picture');

    const ph = p.temporal.workflow.getHandle(paused.batchId);
    await waitFor('the batch to pause after a few members', async () => (await c.getBatchStatus({ batchId: paused.batchId })).progress!.completed >= 4, 180_000, 500);
    await ph.signal(pauseBatchSignal);
    await waitFor('the PAUSED batch', async () => (await ph.query(batchStatusQuery)).status === 'PAUSED', 60_000, 500);
    await waitFor('the RUNNING batch to show progress', async () => (await c.getBatchStatus({ batchId: running.batchId })).progress!.completed >= 10, 180_000, 500);
    await sleep(3_000); // visibility is eventually consistent

    const browser = await chromium(2100, 760);
    try {
      await browser.goto(`${UI}/namespaces/default/workflows`, 3_000);
      const columns = ['Workflow ID', 'RteBatchStatus', 'RteBatchProgress'].map((label) => ({ label }));
      await browser.evaluate(`localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(JSON.stringify({ default: columns }))})`);
      const query = `TaskQueue='${p.config.temporal.taskQueue}' AND ExecutionStatus='Running' AND WorkflowType IN ('batchWorkflow','cacheWarmingWorkflow')`;
      await browser.goto(`${UI}/namespaces/default/workflows?query=${encodeURIComponent(query)}`, 8_000);
      await browser.shot(OUT);
      log(`wrote ${OUT}`);
    } finally {
      browser.close();
    }
  } finally {
    for (const f of cleanup) await f();
    await p.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
