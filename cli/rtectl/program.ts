/**
 * rtectl: one CLI for client services and operators (docs/rtectl.md). Every command talks to the API through the
 * typed client (client/), except `schedules apply|list`, which have no RPC and use Temporal
 * directly (operator access: TEMPORAL_ADDRESS), and `token`, which signs locally. `--json` prints one JSON document
 * (NDJSON for --watch) on stdout; errors then go to stdout as {"error":{...}} too. Exit codes: cli/rtectl/exit-codes.ts.
 */
import { create, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Client as TemporalClient } from '@temporalio/client';
import { Command, CommanderError, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Scope } from '../../api/auth';
import { createRteClient, type RteClient } from '../../client';
import {
  BatchStatus,
  CancelBatchResponseSchema,
  GetBatchStatusResponseSchema,
  ListBatchesResponseSchema,
  MemberIdListSchema,
  PauseBatchResponseSchema,
  ResumeBatchResponseSchema,
  SubmitBatchResponseSchema,
  type BatchError,
  type GetBatchStatusResponse,
  type SubmitBatchRequest,
} from '../../gen/rte/v1/batch_pb';
import { SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { CheckEligibilityResponseSchema } from '../../gen/rte/v1/eligibility_pb';
import { GetWarmingJobResponseSchema, GetWarmingStatsResponseSchema, ScheduleWarmingResponseSchema, WarmCacheRequest_Priority, WarmCacheResponseSchema, WarmingStrategy, type GetWarmingJobResponse } from '../../gen/rte/v1/warming_pb';
import { loadConfig } from '../../lib/config';
import { mintDevToken } from '../../lib/dev-token';
import { connectTemporalClient } from '../../lib/temporal/connect';
import { warmingTuningFromConfig } from '../../lib/temporal/warming-jobs';
import { MAX_STATS_RANGE_MS } from '../../lib/warming/stats';
import { applySchedules, createTemporalScheduleStore } from '../../schedules/apply';
import { loadScheduleFile, ScheduleFileError } from '../../schedules/load';
import { applyWarmingSchedules, createTemporalWarmingScheduleStore } from '../../schedules/warming';
import { loadWarmingScheduleFile } from '../../schedules/warming-load';
import { EXIT, exitCodeForConnect } from './exit-codes';
import type { CliIo } from './io';
import {
  BATCH_PRIORITIES,
  InputError,
  parseBatchId,
  parseEnum,
  parseMode,
  parsePositiveInt,
  parseTimeArg,
  readMemberFile,
  readMemberQueryFile,
  STATUSES,
  STRATEGIES,
  WARM_PRIORITIES,
  WARM_STRATEGIES,
  WINDOWS,
} from './parse';
import { statusName, watchBatch } from './watch';
import { scheduleRow, scheduleRowText, type ScheduleRow } from './schedule-rows';

const OPEN_STATUSES: ReadonlySet<BatchStatus> = new Set([BatchStatus.PENDING, BatchStatus.WAITING, BatchStatus.RUNNING, BatchStatus.PAUSED]);

/**
 * `rtectl batch status` as text. An open batch also says when it is expected to finish, and a batch that has not
 * started (PENDING) or waits between windows (WAITING) says which scheduling window it waits for: without it a batch
 * waiting hours for LOW_UTILIZATION reads like one about to run.
 */
export function batchStatusLines(r: GetBatchStatusResponse, errors: readonly BatchError[], allErrors: boolean): string[] {
  const p = r.progress;
  const window = r.resolvedOptions?.schedulingWindow ?? SchedulingWindow.ANY;
  const waits = (r.status === BatchStatus.PENDING || r.status === BatchStatus.WAITING) && window !== SchedulingWindow.ANY;
  const eta = OPEN_STATUSES.has(r.status) && p?.estimatedCompletion ? `estimated completion ${timestampDate(p.estimatedCompletion).toISOString()}` : undefined;
  const schedule = [waits ? `waiting for the ${SchedulingWindow[window]} window` : undefined, eta].filter((x) => x !== undefined).join(' · ');
  return [
    `${r.batchId}: ${statusName(r.status)}${r.pausedBy ? ` by ${r.pausedBy}` : ''}${r.lastKnown ? ` (last known, as of ${r.asOf ? timestampDate(r.asOf).toISOString() : '?'})` : ''}`,
    `  ${p ? `${p.completed + p.failed}/${p.totalMembers} done · ${p.completed} ok · ${p.failed} failed · ${p.cacheHits} cache hits` : 'no progress yet'}`,
    ...(schedule ? [`  ${schedule}`] : []),
    ...(r.failureCode ? [`  ${r.failureCode}: ${r.failureMessage}`] : []),
    ...errors.map((e) => `  ✗ ${e.memberId} ${e.errorCode}: ${e.errorMessage}`),
    ...(!allErrors && r.totalErrors > errors.length ? [`  … ${r.totalErrors - errors.length} more errors (--errors)`] : []),
  ];
}

/** `rtectl warm job`: a warming job's status and why, counts, failure reasons and times (pure, for tests). */
export function warmingJobLines(r: GetWarmingJobResponse): string[] {
  const t = (x: GetWarmingJobResponse['createdAt']) => (x ? timestampDate(x).toISOString() : undefined);
  const c = r.counts;
  const times = [`created ${t(r.createdAt) ?? '?'}`, r.startedAt ? `started ${t(r.startedAt)}` : '', r.finishedAt ? `finished ${t(r.finishedAt)}` : '', r.waitingUntil ? `until ${t(r.waitingUntil)}` : '']
    .filter(Boolean)
    .join(' · ');
  return [
    `${r.jobId}: ${statusName(r.status)}${r.reason ? ` — ${r.reason}` : ''}`,
    `  ${r.source} · ${WarmCacheRequest_Priority[r.priority]} ${WarmingStrategy[r.strategy]} · ${r.operations.join(', ') || '?'} · ${r.members} members${r.membersSkipped > 0 ? ` (${r.membersSkipped} already fresh)` : ''}`,
    c
      ? `  ${c.warmed} warmed · ${c.alreadyFresh} already fresh · ${c.skippedCached} skipped (cached) · ${c.failed} failed · ${c.cancelled} cancelled · ${c.pending} pending`
      : '  counts unknown (the warm records could not be read)',
    `  ${times}`,
    ...r.failureReasons.map((f) => `  ${f.count} × ${f.reason}`),
    ...(r.lastKnown ? [`  last known as of ${t(r.asOf) ?? '?'}: the job's workflow could not be asked; ask again for the live state`] : []),
  ];
}

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
/** Scopes `rtectl token` puts in a dev token by default: every client scope, not rte:admin. */
export const DEFAULT_TOKEN_SCOPES = [Scope.EligibilityRead, Scope.BatchSubmit, Scope.BatchRead, Scope.BatchCancel, Scope.WarmingWrite, Scope.WarmingRead];
const KNOWN_SCOPES: readonly string[] = Object.values(Scope);

/** Temporal access for the commands that have no RPC (injected in tests). */
export interface TemporalAccess {
  client: TemporalClient;
  taskQueue: string;
  close(): Promise<void>;
}

export interface RtectlDeps {
  io: CliIo;
  /** Default: connect with lib/config (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, codec keys from the environment). */
  temporal?: () => Promise<TemporalAccess>;
}

interface GlobalOpts {
  apiUrl?: string;
  token?: string;
  json?: boolean;
}

const protoJson = <D extends DescMessage>(schema: D, msg: MessageShape<D>) => toJson(schema, msg, { alwaysEmitImplicit: true }) as Record<string, unknown>;

async function defaultTemporal(): Promise<TemporalAccess> {
  const config = loadConfig();
  const { connection, client } = await connectTemporalClient(config);
  return { client, taskQueue: config.temporal.taskQueue, close: () => connection.close() };
}

/** Runs rtectl with `argv` (without node and the script) and returns the exit code; never calls process.exit. */
export async function runRtectl(argv: readonly string[], deps: RtectlDeps): Promise<number> {
  const { io } = deps;
  const wantsJson = argv.includes('--json');
  let exitCode = EXIT.OK as number;

  const fail = (code: number, kind: string, message: string, extra: Record<string, unknown> = {}) => {
    if (wantsJson) io.out(JSON.stringify({ error: { code: kind, message, exitCode: code, ...extra } }));
    else io.err(`rtectl: ${message}`);
    exitCode = code;
  };
  const emit = (json: unknown, human: () => string | string[]) => {
    if (wantsJson) io.out(JSON.stringify(json));
    else for (const l of [human()].flat()) io.out(l);
  };

  const program = new Command('rtectl');
  program
    .description('RTE platform CLI: eligibility checks, batches, cache warming, schedules, dev tokens (docs/rtectl.md)')
    .option('--api-url <url>', 'API base URL (env RTE_API_URL)')
    .option('--token <jwt>', 'bearer token (env RTE_TOKEN; `rtectl token` mints a local dev one)')
    .option('--json', 'machine-readable output: one JSON document on stdout (NDJSON with --watch)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => (wantsJson ? undefined : io.err(s.replace(/\n$/, ''))),
      // commander's own error line ("error: unknown option …") is not printed: the catch below says each error once,
      // as `rtectl: …` (or as the JSON error with --json).
      outputError: () => undefined,
    })
    .showHelpAfterError(false);

  const globals = (): GlobalOpts => program.opts<GlobalOpts>();
  const api = (): RteClient => {
    const g = globals();
    const baseUrl = g.apiUrl ?? io.env['RTE_API_URL'] ?? DEFAULT_API_URL;
    const token = g.token ?? io.env['RTE_TOKEN'];
    if (!token) throw new AuthConfigError();
    try {
      new URL(baseUrl);
    } catch {
      throw new InputError('--api-url', `'${baseUrl}' is not a URL`);
    }
    return createRteClient({
      baseUrl,
      token,
      retry: { onRetry: (r) => (wantsJson ? undefined : io.err(`rtectl: ${Code[r.code]} on ${r.method.split('/')[1]}; retrying in ${(r.delayMs / 1000).toFixed(1)} s`)) },
    });
  };
  const withTemporal = async <T>(fn: (t: TemporalAccess) => Promise<T>): Promise<T> => {
    const t = await (deps.temporal ?? defaultTemporal)();
    try {
      return await fn(t);
    } finally {
      await t.close();
    }
  };
  const enumOpt = <T>(field: string, table: Readonly<Record<string, T>>, prefix = '') => (raw: string) => parseEnum(field, table, raw, prefix);

  // ---- check --------------------------------------------------------------------------------------------------
  program
    .command('check <member>')
    .description('CheckEligibility for one member')
    .option('--mode <mode>', 'cache control: default | cache-only | prefer-cached | bypass-cache | stale-while-revalidate', parseMode)
    .option('--operation <op>', 'cached operation (default check_eligibility)')
    .action(async (member: string, o: { mode?: number; operation?: string }) => {
      const r = await api().eligibility.checkEligibility({ memberId: member, ...(o.mode !== undefined ? { cacheControl: o.mode } : {}), ...(o.operation ? { operation: o.operation } : {}) });
      const j = protoJson(CheckEligibilityResponseSchema, r);
      emit(j, () => {
        const c = r.coverage;
        const md = r.cacheMetadata;
        return [
          `${r.memberId}: ${String(j['cacheStatus']).replace('CACHE_STATUS_', '')}${md?.cached ? ` (cached, age ${md.ageSeconds} s, source ${md.source})` : ''}`,
          c ? `  coverage ${String((j['coverage'] as Record<string, unknown>)['status']).replace('STATUS_', '')} · ${c.payerName || c.payerId} · ${c.planName || '-'}` : '  no coverage data',
          ...r.errors.map((e) => `  error ${e.code}: ${e.description}${e.retryable ? ' (retryable)' : ''}`),
        ];
      });
    });

  // ---- batch ----------------------------------------------------------------------------------------------------
  const batch = program.command('batch').description('batches: submit, watch, status, list, cancel, pause, resume');
  batch
    .command('submit')
    .description('SubmitBatch from a member file or a MemberQuery file; --watch follows it with a progress bar')
    .option('--members <file>', 'member ids, one per line')
    .option('--query <file>', 'a MemberQuery in proto JSON form, as YAML (e.g. sponsorIds: [sp_1], limit: 50)')
    .option('--job-id <id>', 'client_job_id (default rtectl-<time>-<random>; resubmitting the same id returns the same batch)')
    .option('--service <name>', 'client_service_name (default: the token\'s service; another needs rte:admin)')
    .option('--priority <p>', `priority: ${Object.keys(BATCH_PRIORITIES).join(' | ')}`, enumOpt('--priority', BATCH_PRIORITIES, 'priority-'))
    .option('--strategy <s>', `strategy: ${Object.keys(STRATEGIES).join(' | ')}`, enumOpt('--strategy', STRATEGIES, 'strategy-'))
    .option('--window <w>', `scheduling window: ${Object.keys(WINDOWS).join(' | ')}`, enumOpt('--window', WINDOWS, 'scheduling-window-'))
    .option('--mode <mode>', 'cache control per member (as check --mode)', parseMode)
    .option('--max-concurrent <n>', 'max in-flight real-time checks for this batch', (v) => parsePositiveInt('--max-concurrent', v, 15))
    .option('--watch', 'follow the batch with a live progress bar (Ctrl-C stops watching, not the batch)')
    .option('--verbose', 'with --watch: a line per member as it finishes')
    .action(async (o: { members?: string; query?: string; jobId?: string; service?: string; priority?: number; strategy?: number; window?: number; mode?: number; maxConcurrent?: number; watch?: boolean; verbose?: boolean }) => {
      if (o.members && o.query) throw new InputError('--members', 'give either --members or --query, not both');
      if (!o.members && !o.query) throw new InputError('--members', 'one of --members <file> or --query <file> is required');
      if (o.verbose && !o.watch) throw new InputError('--verbose', 'only with --watch');
      const selector: SubmitBatchRequest['memberSelector'] = o.members
        ? { case: 'memberIds', value: create(MemberIdListSchema, { memberIds: await readMemberFile(path.resolve(o.members)) }) }
        : { case: 'memberQuery', value: await readMemberQueryFile(path.resolve(o.query!)) };
      const client = api();
      const r = await client.batch.submitBatch({
        clientJobId: o.jobId ?? `rtectl-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomUUID().slice(0, 8)}`,
        ...(o.service ? { clientServiceName: o.service } : {}),
        memberSelector: selector,
        ...(o.mode !== undefined ? { cacheControl: o.mode } : {}),
        options: {
          ...(o.priority !== undefined ? { priority: o.priority } : {}),
          ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
          ...(o.window !== undefined ? { schedulingWindow: o.window } : {}),
          ...(o.maxConcurrent !== undefined ? { maxConcurrentRequests: o.maxConcurrent } : {}),
        },
      });
      const j = protoJson(SubmitBatchResponseSchema, r);
      if (o.watch && wantsJson) io.out(JSON.stringify({ type: 'submitted', submitted: j }));
      else
        emit(j, () => [
          `submitted ${r.batchId}: ${r.totalMembers} members${r.estimatedCompletion ? `, estimated completion ${timestampDate(r.estimatedCompletion).toISOString()}` : ''}`,
          ...(o.watch ? [] : [`watch it: rtectl batch watch ${r.batchId}`]),
        ]);
      if (o.watch) exitCode = await watchBatch(client.batch, io, { batchId: r.batchId, initialTotal: r.totalMembers, verbose: !!o.verbose, json: wantsJson });
    });
  batch
    .command('watch <batch-id>')
    .description('follow a batch (WatchBatchStatus) with a live progress bar; Ctrl-C stops watching, not the batch')
    .option('--verbose', 'a line per member as it finishes')
    .action(async (id: string, o: { verbose?: boolean }) => {
      const batchId = parseBatchId(id);
      const client = api();
      const st = await client.batch.getBatchStatus({ batchId, errorsPageSize: 1 });
      exitCode = await watchBatch(client.batch, io, { batchId, initialTotal: st.progress?.totalMembers ?? 0, verbose: !!o.verbose, json: wantsJson });
    });
  batch
    .command('status <batch-id>')
    .description('GetBatchStatus: status, progress, and (with --errors) the per-member errors')
    .option('--errors', 'list every per-member error (all pages)')
    .action(async (id: string, o: { errors?: boolean }) => {
      const batchId = parseBatchId(id);
      const client = api();
      const first = await client.batch.getBatchStatus({ batchId, errorsPageSize: o.errors ? 1_000 : 20 });
      const errors = [...first.errors];
      for (let token = first.nextErrorsPageToken; o.errors && token; ) {
        const page = await client.batch.getBatchStatus({ batchId, errorsPageSize: 1_000, errorsPageToken: token });
        errors.push(...page.errors);
        token = page.nextErrorsPageToken;
      }
      const msg = create(GetBatchStatusResponseSchema, { ...first, errors, nextErrorsPageToken: o.errors ? '' : first.nextErrorsPageToken });
      emit(protoJson(GetBatchStatusResponseSchema, msg), () => batchStatusLines(first, errors, !!o.errors));
    });
  batch
    .command('list')
    .description('ListBatches (newest first)')
    .option('--service <name>', 'client service (default: the token\'s)')
    .option('--status <s...>', `only these statuses: ${Object.keys(STATUSES).join(' | ')}`)
    .option('--since <time>', 'submitted at or after (ISO time or age: 24h, 7d)')
    .option('--limit <n>', 'page size (default 50)', (v) => parsePositiveInt('--limit', v, 1_000))
    .option('--page-token <t>', 'next page token from a previous list')
    .action(async (o: { service?: string; status?: string[]; since?: string; limit?: number; pageToken?: string }) => {
      const statuses = (o.status ?? []).flatMap((s) => s.split(',')).filter(Boolean).map((s) => parseEnum('--status', STATUSES, s, 'batch-status-'));
      const since = o.since ? parseTimeArg('--since', o.since) : undefined;
      const r = await api().batch.listBatches({
        ...(o.service ? { clientServiceName: o.service } : {}),
        statuses,
        ...(since ? { submittedAfter: timestampFromDate(since) } : {}),
        ...(o.limit ? { pageSize: o.limit } : {}),
        ...(o.pageToken ? { pageToken: o.pageToken } : {}),
      });
      emit(protoJson(ListBatchesResponseSchema, r), () => [
        ...r.batches.map((b) => {
          const p = b.progress;
          return `${b.batchId}  ${statusName(b.status)}  ${p ? `${p.completed + p.failed}/${p.totalMembers}` : '-'}  ${b.submittedAt ? timestampDate(b.submittedAt).toISOString() : ''}`;
        }),
        ...(r.batches.length === 0 ? ['no batches'] : []),
        ...(r.nextPageToken ? [`more: rtectl batch list --page-token ${r.nextPageToken}`] : []),
      ]);
    });
  batch
    .command('cancel <batch-id>')
    .description('CancelBatch: members in flight finish, nothing new starts; finished results stay cached')
    .option('--reason <text>', 'recorded for audit', 'cancelled with rtectl')
    .action(async (id: string, o: { reason: string }) => {
      const batchId = parseBatchId(id);
      const r = await api().batch.cancelBatch({ batchId, reason: o.reason });
      emit(protoJson(CancelBatchResponseSchema, r), () => `${batchId}: ${statusName(r.status)} · ${r.completed} completed · ${r.failed} failed · ${r.cancelled} not processed`);
    });
  batch
    .command('pause <batch-id>')
    .description('PauseBatch: no further member is dispatched (checks in flight finish); answers once the batch reports PAUSED')
    .option('--reason <text>', 'recorded for audit (at most 500 characters)', 'paused with rtectl')
    .action(async (id: string, o: { reason: string }) => {
      const batchId = parseBatchId(id);
      const r = await api().batch.pauseBatch({ batchId, reason: o.reason });
      emit(protoJson(PauseBatchResponseSchema, r), () => `${batchId}: ${statusName(r.status)}`);
    });
  batch
    .command('resume <batch-id>')
    .description('ResumeBatch: a paused batch goes back to RUNNING, WAITING or PENDING as its schedule says')
    .option('--reason <text>', 'recorded for audit (at most 500 characters)', 'resumed with rtectl')
    .action(async (id: string, o: { reason: string }) => {
      const batchId = parseBatchId(id);
      const r = await api().batch.resumeBatch({ batchId, reason: o.reason });
      emit(protoJson(ResumeBatchResponseSchema, r), () => `${batchId}: resumed (${statusName(r.status)})`);
    });

  // ---- warm -----------------------------------------------------------------------------------------------------
  // `warm <members...>` is the default subcommand `warm cache`: `warm` itself has no options. Options on `warm` named
  // like its subcommands' (--priority, --strategy, --source) were taken by `warm` and never reached `warm schedule` /
  // `warm stats` (commander parses a parent's options wherever they appear unless every ancestor is positional, which
  // would stop the global flags working after the command).
  const warm = program.command('warm').description('cache warming: WarmCache (the default: `warm [members...]`), schedule, stats, job');
  warm
    .command('cache', { isDefault: true })
    .description('WarmCache for members (the default: `rtectl warm m_1 m_2` is `rtectl warm cache m_1 m_2`)')
    .argument('[members...]', 'member ids (or --members <file>)')
    .option('--members <file>', 'member ids, one per line (at most 1,000)')
    .option('--priority <p>', `priority: ${Object.keys(WARM_PRIORITIES).join(' | ')}`, enumOpt('--priority', WARM_PRIORITIES, 'priority-'))
    .option('--strategy <s>', `strategy: ${Object.keys(WARM_STRATEGIES).join(' | ')}`, enumOpt('--strategy', WARM_STRATEGIES, 'warming-strategy-'))
    .option('--operations <ops>', 'comma-separated operations (default all)')
    .option('--source <s>', 'source for tracking (default manual-trigger)')
    .option('--idempotency-key <k>', 'the same key answers the same job (and makes retries on unavailable safe)')
    .action(async (members: string[], o: { members?: string; priority?: number; strategy?: number; operations?: string; source?: string; idempotencyKey?: string }) => {
      if (members.length > 0 && o.members) throw new InputError('--members', 'give member ids as arguments or --members <file>, not both');
      const ids = o.members ? await readMemberFile(path.resolve(o.members)) : members;
      if (ids.length === 0) throw new InputError('members', 'at least one member id (or --members <file>) is required');
      const r = await api().warming.warmCache(
        {
          memberIds: ids,
          operations: (o.operations ?? '').split(',').map((s) => s.trim()).filter(Boolean),
          ...(o.priority !== undefined ? { priority: o.priority } : {}),
          ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
          ...(o.source ? { source: o.source } : {}),
        },
        o.idempotencyKey ? { headers: { 'idempotency-key': o.idempotencyKey } } : {},
      );
      emit(protoJson(WarmCacheResponseSchema, r), () =>
        OPEN_STATUSES.has(r.status)
          ? `${r.warmingJobId}: ${r.membersQueued} queued, ${r.membersSkipped} already fresh${r.estimatedCompletion ? `, estimated completion ${timestampDate(r.estimatedCompletion).toISOString()}` : ''}`
          : // A repeat (same --idempotency-key) of a job that already ended: nothing is queued; say how it ended.
            `${r.warmingJobId}: already ended ${statusName(r.status)}${r.reason ? ` — ${r.reason}` : ''}${r.estimatedCompletion ? ` at ${timestampDate(r.estimatedCompletion).toISOString()}` : ''} (details: rtectl warm job ${r.warmingJobId})`,
      );
    });
  warm
    .command('schedule <name>')
    .description('ScheduleWarming: create or update the recurring warming schedule warming/<name>')
    .requiredOption('--cron <expr>', 'cron expression (UTC), e.g. "0 4 * * *"')
    .requiredOption('--query <file>', 'MemberQuery (proto JSON form, as YAML)')
    .option('--priority <p>', `priority: ${Object.keys(WARM_PRIORITIES).join(' | ')}`, enumOpt('--priority', WARM_PRIORITIES, 'priority-'))
    .option('--strategy <s>', `strategy: ${Object.keys(WARM_STRATEGIES).join(' | ')}`, enumOpt('--strategy', WARM_STRATEGIES, 'warming-strategy-'))
    .option('--disabled', 'create or update it paused')
    .action(async (name: string, o: { cron: string; query: string; priority?: number; strategy?: number; disabled?: boolean }) => {
      const memberQuery = await readMemberQueryFile(path.resolve(o.query));
      const r = await api().warming.scheduleWarming({
        scheduleName: name,
        cronExpression: o.cron,
        memberQuery,
        enabled: !o.disabled,
        ...(o.priority !== undefined ? { priority: o.priority } : {}),
        ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
      });
      emit(protoJson(ScheduleWarmingResponseSchema, r), () => `${r.scheduleId}: ${r.nextRun ? `next run ${timestampDate(r.nextRun).toISOString()}` : 'disabled (no next run)'}`);
    });
  warm
    .command('job <job-id>')
    .description('GetWarmingJob: a warming job\'s status (and why), counts, failure reasons and times')
    .action(async (jobId: string) => {
      const r = await api().warming.getWarmingJob({ jobId });
      emit(protoJson(GetWarmingJobResponseSchema, r), () => warmingJobLines(r));
    });
  warm
    .command('stats')
    .description('GetWarmingStats over a time range')
    .option('--since <time>', 'start (ISO time or age: 24h, 7d)', '24h')
    .option('--until <time>', 'end (ISO time or age; default now)')
    .option('--source <s...>', 'only these sources')
    .action(async (o: { since: string; until?: string; source?: string[] }) => {
      const start = parseTimeArg('--since', o.since);
      const end = o.until ? parseTimeArg('--until', o.until) : new Date();
      if (end.getTime() <= start.getTime()) throw new InputError('--until', 'must be after --since');
      // The API's own limit, checked here so the refusal names the flag the operator wrote (not end_time).
      if (end.getTime() - start.getTime() > MAX_STATS_RANGE_MS) throw new InputError('--since', `the range may span at most ${MAX_STATS_RANGE_MS / 86_400_000} days`);
      const r = await api().warming.getWarmingStats({ startTime: timestampFromDate(start), endTime: timestampFromDate(end), sources: o.source ?? [] });
      const s = r.stats;
      emit(protoJson(GetWarmingStatsResponseSchema, r), () => [
        `warming ${start.toISOString()} → ${end.toISOString()}`,
        `  ${s?.totalMembersWarmed ?? 0} members warmed · ${s?.cacheHitsAvoided ?? 0} misses avoided · accuracy ${((s?.predictionAccuracy ?? 0) * 100).toFixed(1)} %`,
        ...Object.entries(s?.bySource ?? {}).map(([k, v]) => `  ${k}: ${v}`),
      ]);
    });

  // ---- schedules ------------------------------------------------------------------------------------------------
  const schedules = program.command('schedules').description('Temporal Schedules of the platform (member-cron/, warming/); needs Temporal access');
  schedules
    .command('apply')
    .description('reconcile the schedules with their files (as `stack up` does): member-cron and warming')
    .addOption(new Option('--kind <kind>', 'which file').choices(['all', 'member-cron', 'warming']).default('all'))
    .option('--member-cron-file <path>', 'default schedules/member-cron-schedules.yaml')
    .option('--warming-file <path>', 'default schedules/warming-schedules.yaml')
    .option('--dry-run', 'print what would change, change nothing')
    .action(async (o: { kind: 'all' | 'member-cron' | 'warming'; memberCronFile?: string; warmingFile?: string; dryRun?: boolean }) => {
      const root = path.resolve(__dirname, '../..');
      const mcFile = path.resolve(o.memberCronFile ?? path.join(root, 'schedules/member-cron-schedules.yaml'));
      const wFile = path.resolve(o.warmingFile ?? path.join(root, 'schedules/warming-schedules.yaml'));
      // Both files are loaded (and refused, naming the field) before anything is touched.
      let mc: Awaited<ReturnType<typeof loadScheduleFile>> | undefined;
      let w: Awaited<ReturnType<typeof loadWarmingScheduleFile>> | undefined;
      try {
        mc = o.kind !== 'warming' ? await loadScheduleFile(mcFile) : undefined;
        w = o.kind !== 'member-cron' ? await loadWarmingScheduleFile(wFile) : undefined;
      } catch (err) {
        if (err instanceof ScheduleFileError) throw new InputError(o.kind === 'warming' || mc ? '--warming-file' : '--member-cron-file', `${err.message}; no schedule was changed`);
        throw err;
      }
      const result = await withTemporal(async (t) => {
        const opts = { taskQueue: t.taskQueue, dryRun: !!o.dryRun };
        return {
          ...(mc ? { memberCron: await applySchedules(mc, createTemporalScheduleStore(t.client), opts) } : {}),
          ...(w ? { warming: await applyWarmingSchedules(w, createTemporalWarmingScheduleStore(t.client), { ...opts, tuning: warmingTuningFromConfig(loadConfig()) }) } : {}),
        };
      });
      emit({ dryRun: !!o.dryRun, ...result }, () =>
        Object.entries(result).flatMap(([kind, r]) => [
          `${kind}${o.dryRun ? ' (dry run)' : ''}:`,
          ...(['created', 'updated', 'paused', 'unpaused', 'deleted', 'unchanged'] as const).filter((k) => r[k].length > 0).map((k) => `  ${k}: ${r[k].join(', ')}`),
        ]),
      );
    });
  schedules
    .command('list')
    .description('list the platform\'s Temporal Schedules (member-cron/ and warming/)')
    .option('--prefix <p>', 'only ids starting with this')
    .action(async (o: { prefix?: string }) => {
      const rows = await withTemporal(async (t) => {
        const out: ScheduleRow[] = [];
        for await (const s of t.client.schedule.list()) {
          const id = s.scheduleId;
          if (o.prefix ? !id.startsWith(o.prefix) : !/^(member-cron|warming)\//.test(id)) continue;
          out.push(scheduleRow(s));
        }
        return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
      });
      emit({ schedules: rows }, () => (rows.length === 0 ? ['no schedules'] : rows.map(scheduleRowText)));
    });

  // ---- token ----------------------------------------------------------------------------------------------------
  program
    .command('token')
    .description('mint a local dev token (HS256 with AUTH_DEV_SECRET; the API accepts it only with AUTH_MODE=dev-hs256)')
    .option('--service <name>', 'the token\'s service identity (sub)', 'rtectl')
    .option('--scopes <list>', `comma-separated scopes (default every client scope); known: ${KNOWN_SCOPES.join(', ')}`)
    .option('--ttl <seconds>', 'lifetime in seconds (default 3600)', (v) => parsePositiveInt('--ttl', v, 30 * 86_400))
    .action(async (o: { service: string; scopes?: string; ttl?: number }) => {
      const scopes = o.scopes ? o.scopes.split(',').map((s) => s.trim()).filter(Boolean) : [...DEFAULT_TOKEN_SCOPES];
      const unknown = scopes.filter((s) => !KNOWN_SCOPES.includes(s));
      if (unknown.length > 0) throw new InputError('--scopes', `unknown scope ${unknown.join(', ')}; valid: ${KNOWN_SCOPES.join(', ')}`);
      if (scopes.length === 0) throw new InputError('--scopes', 'at least one scope');
      if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(o.service)) throw new InputError('--service', '1-128 letters, digits and . _ : @ -');
      const secret = io.env['AUTH_DEV_SECRET'] ?? 'dev-secret-change-me';
      const ttl = o.ttl ?? 3600;
      const token = await mintDevToken({ service: o.service, scopes, secret, expiresInSeconds: ttl });
      const expiresAt = new Date(Date.now() + ttl * 1000).toISOString();
      emit({ token, service: o.service, scopes, expiresAt }, () => token);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      const cause = (err as CommanderError & { cause?: unknown }).cause;
      // A custom parser's InputError surfaces inside commander's "invalid argument" error.
      const msg = err.message.replace(/^error: /, '');
      fail(EXIT.USAGE, 'invalid_argument', msg, cause instanceof InputError ? { field: cause.field } : {});
      return exitCode;
    }
    if (err instanceof InputError) fail(EXIT.USAGE, 'invalid_argument', err.message, { field: err.field });
    else if (err instanceof AuthConfigError) fail(EXIT.AUTH, 'unauthenticated', err.message);
    else if (err instanceof ConnectError) {
      const retryAfter = err.metadata.get('retry-after');
      fail(exitCodeForConnect(err), Code[err.code].replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase(), err.rawMessage, retryAfter ? { retryAfterSeconds: Number(retryAfter) } : {});
    } else fail(EXIT.ERROR, 'internal', err instanceof Error ? err.message : String(err));
  }
  return exitCode;
}

class AuthConfigError extends Error {
  constructor() {
    super('no token: set RTE_TOKEN or pass --token (locally: export RTE_TOKEN=$(rtectl token))');
  }
}
