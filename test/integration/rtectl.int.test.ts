import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { createRteClient, type RetryInfo, type RteClient } from '../../client';
import { WarmCacheRequest_Priority } from '../../gen/rte/v1/warming_pb';
import { captureIo } from '../../cli/rtectl/io';
import { runRtectl, type TemporalAccess } from '../../cli/rtectl/program';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import type { MemberRecord } from '../../lib/member-record';
import { silentLogger } from '../../lib/logger';
import { verdictFor } from '../../stedi-sim/answers';
import { waitFor } from '../../bench/batch-harness';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * rtectl and the typed client against the real platform (test/helpers/platform.ts: Temporal, Redis, PostgreSQL, Kafka,
 * the Stedi simulator at 0.1 × Stedi's latency, ≈1.35 s a check).
 *  - Every command's `--json` output is validated against its JSON Schema (cli/schemas/), in process (runRtectl).
 *  - `rtectl batch submit --watch` runs as the real binary (bin/rtectl) in tmux: the pane is captured while the bar
 *    moves and at the end (written to docs/rtectl-watch.txt when RTECTL_WRITE_DOCS=1); Ctrl-C stops watching and
 *    leaves the batch running. tmux must be installed (`stack install` installs it): without it the test fails.
 */

const ROOT = path.resolve(__dirname, '../..');
const SCHEMA_DIR = path.join(ROOT, 'cli/schemas');
/** Members the simulator answers with coverage (no AAA error of any kind), so every count below is exact. */
const answerable = (members: MemberRecord[]) => members.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode === undefined);

function loadSchemas(): Map<string, ValidateFunction> {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  const out = new Map<string, ValidateFunction>();
  for (const f of readdirSync(SCHEMA_DIR).filter((n) => n.endsWith('.json'))) out.set(f.replace(/\.json$/, ''), ajv.compile(JSON.parse(readFileSync(path.join(SCHEMA_DIR, f), 'utf8'))));
  return out;
}

describe('rtectl and the typed client (integration)', () => {
  let p: TestPlatform;
  let token: string;
  let client: RteClient;
  let members: string[];
  const schemas = loadSchemas();
  const dir = mkdtempSync(path.join(tmpdir(), 'rtectl-'));
  const tmuxSessions: string[] = [];
  const schedulesToDelete: string[] = [];

  beforeAll(async () => {
    // WarmCache rate limit 2 per 5 s per caller: the typed client's retry-after test below meets it.
    p = await startTestPlatform({ population: 300, sim: { timeScale: 0.1, logger: silentLogger() }, env: { WARM_CACHE_RATE_LIMIT: '2', WARM_CACHE_RATE_WINDOW_SECONDS: '5' } });
    token = await p.token(['rte:admin'], 'svc-rtectl');
    client = createRteClient({ baseUrl: p.apiUrl, token });
    members = answerable(p.members).map((m) => m.memberId);
  }, 120_000);

  afterAll(async () => {
    for (const s of tmuxSessions) {
      try {
        execFileSync('tmux', ['kill-session', '-t', s], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    for (const id of schedulesToDelete) await p?.temporal.schedule.getHandle(id).delete().catch(() => undefined);
    await p?.close();
  }, 60_000);

  /** Runs rtectl in process with --json and validates stdout against the named schema; returns the parsed output. */
  async function rtectlJson(schema: string, args: string[], expectExit = 0): Promise<Record<string, unknown>> {
    const io = captureIo({ RTE_API_URL: p.apiUrl, RTE_TOKEN: token, AUTH_DEV_SECRET: p.config.auth.mode === 'dev-hs256' ? p.config.auth.devSecret : '' });
    const temporal = async (): Promise<TemporalAccess> => ({ client: p.temporal, taskQueue: p.config.temporal.taskQueue, close: async () => undefined });
    const code = await runRtectl([...args, '--json'], { io, temporal });
    expect({ args, code, stderr: io.stderr }).toEqual({ args, code: expectExit, stderr: io.stderr });
    expect(io.stdout).toHaveLength(1);
    const doc = JSON.parse(io.stdout[0]!) as Record<string, unknown>;
    const validate = schemas.get(schema)!;
    if (!validate(doc)) throw new Error(`${args.join(' ')}: output does not match cli/schemas/${schema}.json: ${JSON.stringify(validate.errors)}\n${io.stdout[0]}`);
    return doc;
  }

  const memberFile = (ids: string[]) => {
    const f = path.join(dir, `${uniqueName('members')}.txt`);
    writeFileSync(f, `# rtectl test\n${ids.join('\n')}\n`);
    return f;
  };

  it('--json output of every command matches its JSON Schema, and bad input is refused naming the field', async () => {
    // token
    const t = await rtectlJson('token', ['token', '--service', 'svc-x', '--scopes', 'rte:eligibility:read']);
    expect(t['scopes']).toEqual(['rte:eligibility:read']);
    // check: a live check, then CACHE_ONLY from the cache; CACHE_ONLY for an uncached member is not_found (exit 3)
    const live = await rtectlJson('check', ['check', members[0]!]);
    expect(live['cacheStatus']).toBe('CACHE_STATUS_MISS');
    const hit = await rtectlJson('check', ['check', members[0]!, '--mode', 'cache-only']);
    expect(hit['cacheStatus']).toBe('CACHE_STATUS_HIT');
    const miss = await rtectlJson('error', ['check', members[1]!, '--mode', 'CACHE_ONLY'], 3);
    expect(miss['error']).toMatchObject({ code: 'not_found' });
    // bad input: refused at once, field named, valid values listed
    const bad = await rtectlJson('error', ['check', members[1]!, '--mode', 'sometimes'], 2);
    expect(bad['error']).toMatchObject({ code: 'invalid_argument', field: '--mode' });
    expect(String((bad['error'] as Record<string, unknown>)['message'])).toContain('default, cache-only, prefer-cached, bypass-cache, stale-while-revalidate');
    const both = await rtectlJson('error', ['batch', 'submit', '--members', 'a', '--query', 'b'], 2);
    expect(both['error']).toMatchObject({ field: '--members' });
    // The API's own refusal (invalid_argument naming the field) comes through with exit 2.
    const apiBad = await rtectlJson('error', ['warm', ' '], 2);
    expect(String((apiBad['error'] as Record<string, unknown>)['message'])).toMatch(/member_ids/);

    // batch submit / status / list
    const jobId = uniqueName('json');
    const sub = await rtectlJson('batch-submit', ['batch', 'submit', '--members', memberFile(members.slice(2, 6)), '--job-id', jobId, '--priority', 'high', '--strategy', 'realtime-only']);
    const batchId = String(sub['batchId']);
    expect(batchId).toBe(`batch/svc-rtectl/${jobId}`);
    expect(sub['totalMembers']).toBe(4);
    await waitFor('the 4-member batch to finish', async () => [BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED].includes((await client.batch.getBatchStatus({ batchId })).status), 60_000, 250);
    const st = await rtectlJson('batch-status', ['batch', 'status', batchId, '--errors']);
    expect(st['status']).toBe('BATCH_STATUS_COMPLETED');
    expect(st['progress']).toMatchObject({ totalMembers: 4, completed: 4, failed: 0 });
    await waitFor('ListBatches to show it', async () => (await client.batch.listBatches({ clientServiceName: 'svc-rtectl' })).batches.some((b) => b.batchId === batchId), 30_000, 250);
    const list = await rtectlJson('batch-list', ['batch', 'list', '--service', 'svc-rtectl', '--status', 'completed', '--since', '1h']);
    expect((list['batches'] as { batchId: string }[]).map((b) => b.batchId)).toContain(batchId);
    const finished = await rtectlJson('error', ['batch', 'pause', batchId], 6);
    expect(finished['error']).toMatchObject({ code: 'failed_precondition' });
    await rtectlJson('error', ['batch', 'status', 'batch/svc-rtectl/no-such-job'], 3);

    // pause / resume / cancel on a slow batch (2 checks in flight at ≈1.35 s each)
    const slow = await rtectlJson('batch-submit', ['batch', 'submit', '--members', memberFile(members.slice(10, 40)), '--job-id', uniqueName('slow'), '--priority', 'high', '--strategy', 'realtime-only', '--max-concurrent', '2']);
    const slowId = String(slow['batchId']);
    const paused = await rtectlJson('batch-pause', ['batch', 'pause', slowId, '--reason', 'rtectl test']);
    expect(paused).toEqual({ batchId: slowId, status: 'BATCH_STATUS_PAUSED' });
    expect((await client.batch.getBatchStatus({ batchId: slowId })).status).toBe(BatchStatus.PAUSED);
    // Who paused it: the caller's client service, through the real workflow.
    expect(await rtectlJson('batch-status', ['batch', 'status', slowId])).toMatchObject({ status: 'BATCH_STATUS_PAUSED', pausedBy: 'svc-rtectl' });
    const resumed = await rtectlJson('batch-pause', ['batch', 'resume', slowId]);
    expect(resumed['batchId']).toBe(slowId);
    expect(resumed['status']).not.toBe('BATCH_STATUS_PAUSED');
    expect((await client.batch.getBatchStatus({ batchId: slowId })).pausedBy).toBe('');
    await rtectlJson('error', ['batch', 'resume', slowId], 6);
    const cancelled = await rtectlJson('batch-cancel', ['batch', 'cancel', slowId, '--reason', 'rtectl test']);
    expect(cancelled['status']).toBe('BATCH_STATUS_CANCELLED');
    expect(Number(cancelled['cancelled'])).toBeGreaterThan(0);

    // warm, warm stats, warm schedule, schedules list / apply --dry-run
    const w = await rtectlJson('warm', ['warm', members[50]!, members[51]!, '--priority', 'urgent', '--source', 'rtectl-test']);
    expect(Number(w['membersQueued']) + Number(w['membersSkipped'])).toBe(2);
    const wj = await rtectlJson('warm-job', ['warm', 'job', String(w['warmingJobId'])]);
    expect(wj).toMatchObject({ jobId: w['warmingJobId'], source: 'rtectl-test', priority: 'PRIORITY_URGENT', members: 2, lastKnown: false });
    await rtectlJson('error', ['warm', 'job', 'warming/rtectl-test/api-00000000000000000000000000000000'], 3);
    await rtectlJson('error', ['warm', 'job', 'batch/x/y'], 2);
    await rtectlJson('warm-stats', ['warm', 'stats', '--since', '1h', '--source', 'rtectl-test']);
    const name = uniqueName('rtectl');
    const q = path.join(dir, 'query.yaml');
    writeFileSync(q, 'hasRteEnabled: true\nexcludeMockAccounts: true\n');
    const sched = await rtectlJson('warm-schedule', ['warm', 'schedule', name, '--cron', '0 4 * * *', '--query', q, '--priority', 'preload']);
    schedulesToDelete.push(String(sched['scheduleId']));
    expect(sched['scheduleId']).toBe(`warming/${name}`);
    await rtectlJson('error', ['warm', 'schedule', name, '--cron', '0 4 * * *', '--query', q, '--strategy', 'lazy'], 2);
    const listed = await rtectlJson('schedules-list', ['schedules', 'list', '--prefix', `warming/${name}`]);
    expect(listed['schedules']).toEqual([expect.objectContaining({ scheduleId: `warming/${name}`, kind: 'warming', paused: false })]);
    const apply = await rtectlJson('schedules-apply', ['schedules', 'apply', '--dry-run']);
    expect(apply['dryRun']).toBe(true);
  });

  it('typed client: a rate-limited WarmCache carries retry-after from the real API, and the client waits it out', async () => {
    const t = await p.token(['rte:warming:write'], 'svc-retry');
    const retries: RetryInfo[] = [];
    const retrying = createRteClient({ baseUrl: p.apiUrl, token: t, retry: { maxAttempts: 4, onRetry: (i) => retries.push(i) } });
    const plain = createRteClient({ baseUrl: p.apiUrl, token: t, retry: false });
    let n = 200;
    const req = () => ({ memberIds: [members[n++]!], priority: WarmCacheRequest_Priority.URGENT, source: 'rtectl-retry' });
    // Without retries: four calls at once against a limit of 2 in any 5 s (a sliding window): at least two are refused,
    // with the header the client will honour. (At once, not one after another: on a loaded machine sequential calls
    // slower than 2.5 s each never meet the limit.)
    const outcomes = await Promise.all(
      [0, 1, 2, 3].map(() =>
        plain.warming.warmCache(req()).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        ),
      ),
    );
    const refusals = outcomes.filter((e): e is ConnectError => e !== undefined);
    expect(refusals.map((e) => Code[e.code])).toEqual(refusals.map(() => 'ResourceExhausted'));
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    const retryAfterS = Number(refusals[0]!.metadata.get('retry-after'));
    expect(retryAfterS).toBeGreaterThanOrEqual(1);
    expect(retryAfterS).toBeLessThanOrEqual(5);
    // With retries: three calls at once; at least one is refused and retried after the server's retry-after, and all
    // three succeed.
    const t0 = Date.now();
    const jobs = await Promise.all([retrying.warming.warmCache(req()), retrying.warming.warmCache(req()), retrying.warming.warmCache(req())]);
    expect(jobs.every((j) => j.warmingJobId.startsWith('warming/'))).toBe(true);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    for (const r of retries) expect(r).toMatchObject({ method: 'rte.v1.CacheWarmingService/WarmCache', code: Code.ResourceExhausted, fromRetryAfter: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(retries[0]!.delayMs);
  });

  // ---- tmux ------------------------------------------------------------------------------------------------------
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
  const capture = (session: string) => tmux('capture-pane', '-p', '-t', session).replace(/\s+$/, '');

  function startInTmux(session: string, args: string[]): void {
    try {
      execFileSync('which', ['tmux'], { stdio: 'ignore' });
    } catch {
      throw new Error('tmux is not installed: the rtectl --watch tests need it (`./stack/stack install` installs it; apt-get install -y tmux)');
    }
    const cmd = [path.join(ROOT, 'bin/rtectl'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    tmux('new-session', '-d', '-s', session, '-x', '110', '-y', '30', '-e', `RTE_API_URL=${p.apiUrl}`, '-e', `RTE_TOKEN=${token}`, '-e', `PATH=${process.env['PATH'] ?? ''}`, `bash -c "${cmd.replace(/"/g, '\\"')}; echo \\"[rtectl exited \\$?]\\"; sleep 600"`);
    tmuxSessions.push(session);
  }

  async function paneUntil(session: string, what: string, pred: (pane: string) => boolean, timeoutMs: number): Promise<string> {
    let pane = '';
    await waitFor(what, async () => pred((pane = capture(session))), timeoutMs, 100).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- pane ---\n${pane}`);
    });
    return pane;
  }

  /** `12/30 done` from the bar. */
  const doneOf = (pane: string) => {
    const m = [...pane.matchAll(/(\d+)\/(\d+) done/g)].at(-1);
    return m ? { done: Number(m[1]), total: Number(m[2]) } : undefined;
  };

  it('batch submit --watch in tmux: the bar moves (done / failed / ETA) and ends with the summary', async () => {
    const session = uniqueName('rtectl-watch').replace(/[^A-Za-z0-9-]/g, '-');
    const jobId = uniqueName('watch');
    startInTmux(session, ['batch', 'submit', '--members', memberFile(members.slice(60, 90)), '--job-id', jobId, '--priority', 'high', '--strategy', 'realtime-only', '--max-concurrent', '3', '--watch', '--verbose']);
    const moving = await paneUntil(session, 'the bar to show progress', (pane) => {
      const d = doneOf(pane);
      return !!d && d.total === 30 && d.done >= 6 && d.done < 30;
    }, 60_000);
    expect(moving).toMatch(/\d+ failed \| ETA (\d+m)?\d+s \| RUNNING/);
    expect(moving).toMatch(/✓ m_\w+/); // --verbose member lines above the bar
    const end = await paneUntil(session, 'rtectl to exit', (pane) => pane.includes('[rtectl exited'), 60_000);
    expect(end).toContain(`batch/svc-rtectl/${jobId}: COMPLETED — 30 ok, 0 failed of 30`);
    expect(end).toContain('[rtectl exited 0]');
    expect(doneOf(end)).toEqual({ done: 30, total: 30 });
    const text = `$ rtectl batch submit --members members.txt --job-id <id> --priority high --strategy realtime-only --max-concurrent 3 --watch --verbose\n\n--- while the bar moves ---\n${moving}\n\n--- at the end ---\n${end}\n`;
    writeFileSync(path.join(dir, 'rtectl-watch.txt'), text);
    if (process.env['RTECTL_WRITE_DOCS'] === '1') writeFileSync(path.join(ROOT, 'docs/rtectl-watch.txt'), text.replaceAll(jobId, '<id>'));
  });

  it('Ctrl-C during --watch stops watching, not the batch, and says how to resume', async () => {
    const session = uniqueName('rtectl-int').replace(/[^A-Za-z0-9-]/g, '-');
    const jobId = uniqueName('ctrlc');
    const batchId = `batch/svc-rtectl/${jobId}`;
    startInTmux(session, ['batch', 'submit', '--members', memberFile(members.slice(100, 130)), '--job-id', jobId, '--priority', 'high', '--strategy', 'realtime-only', '--max-concurrent', '2', '--watch']);
    await paneUntil(session, 'the bar to show progress', (pane) => (doneOf(pane)?.done ?? 0) >= 2, 60_000);
    tmux('send-keys', '-t', session, 'C-c');
    const pane = await paneUntil(session, 'rtectl to stop watching', (s) => s.includes('[rtectl exited'), 30_000);
    expect(pane.replace(/\n/g, '')).toContain(`Stopped watching ${batchId}. The batch was NOT cancelled and keeps running`);
    expect(pane.replace(/\n/g, '')).toContain(`Resume watching: rtectl batch watch ${batchId}`);
    expect(pane).toContain('[rtectl exited 130]');
    if (process.env['RTECTL_WRITE_DOCS'] === '1') {
      const doc = path.join(ROOT, 'docs/rtectl-watch.txt');
      writeFileSync(doc, `${readFileSync(doc, 'utf8')}\n--- Ctrl-C during --watch (another batch; tmux send-keys C-c) ---\n${pane.replaceAll(jobId, '<id>')}\n`);
    }
    const st = await client.batch.getBatchStatus({ batchId });
    expect(st.status).toBe(BatchStatus.RUNNING);
    expect(st.progress!.completed + st.progress!.failed).toBeLessThan(30);
    // Still moving after the watcher left.
    const before = st.progress!.completed;
    await waitFor('the batch to keep going', async () => (await client.batch.getBatchStatus({ batchId })).progress!.completed > before, 30_000, 250);
    await client.batch.cancelBatch({ batchId, reason: 'test done' });
  });
});
