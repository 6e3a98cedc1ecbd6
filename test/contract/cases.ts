import { create, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code } from '@connectrpc/connect';
import { randomUUID } from 'node:crypto';
import {
  CancelBatchRequestSchema,
  GetBatchStatusRequestSchema,
  ListBatchesRequestSchema,
  PauseBatchRequestSchema,
  ResumeBatchRequestSchema,
  SubmitBatchRequestSchema,
  WatchBatchRequestSchema,
} from '../../gen/rte/v1/batch_pb';
import { CheckEligibilityRequestSchema } from '../../gen/rte/v1/eligibility_pb';
import { GetWarmingJobRequestSchema, GetWarmingStatsRequestSchema, ScheduleWarmingRequestSchema, WarmCacheRequestSchema } from '../../gen/rte/v1/warming_pb';

/**
 * The contract table: per RPC, malformed inputs and the answer the API documents for them (docs/api-errors.md).
 * Each row is sent over Connect JSON (`json`), Connect binary and gRPC (`bin`), whichever the row defines; every
 * variant must answer `code` within 1 s with `field` (per variant) in the message, and cause no side effect.
 *
 * To add an RPC: add its entry to RPCS, then its rows with `rows(rpc, base, [...])` below.
 */
export interface RpcInfo {
  path: string;
  input: DescMessage;
  /** Server streaming: Connect uses the enveloped streaming protocol. */
  stream?: boolean;
}

export const RPCS = {
  CheckEligibility: { path: '/rte.v1.EligibilityService/CheckEligibility', input: CheckEligibilityRequestSchema },
  SubmitBatch: { path: '/rte.v1.BatchEligibilityService/SubmitBatch', input: SubmitBatchRequestSchema },
  GetBatchStatus: { path: '/rte.v1.BatchEligibilityService/GetBatchStatus', input: GetBatchStatusRequestSchema },
  ListBatches: { path: '/rte.v1.BatchEligibilityService/ListBatches', input: ListBatchesRequestSchema },
  CancelBatch: { path: '/rte.v1.BatchEligibilityService/CancelBatch', input: CancelBatchRequestSchema },
  PauseBatch: { path: '/rte.v1.BatchEligibilityService/PauseBatch', input: PauseBatchRequestSchema },
  ResumeBatch: { path: '/rte.v1.BatchEligibilityService/ResumeBatch', input: ResumeBatchRequestSchema },
  WatchBatchStatus: { path: '/rte.v1.BatchEligibilityService/WatchBatchStatus', input: WatchBatchRequestSchema, stream: true },
  SubmitBatchStreaming: { path: '/rte.v1.BatchEligibilityService/SubmitBatchStreaming', input: SubmitBatchRequestSchema, stream: true },
  // CacheWarmingService: field validation of every RPC, then the handlers (warming-service.ts, warming-admin.ts).
  WarmCache: { path: '/rte.v1.CacheWarmingService/WarmCache', input: WarmCacheRequestSchema },
  ScheduleWarming: { path: '/rte.v1.CacheWarmingService/ScheduleWarming', input: ScheduleWarmingRequestSchema },
  GetWarmingStats: { path: '/rte.v1.CacheWarmingService/GetWarmingStats', input: GetWarmingStatsRequestSchema },
  GetWarmingJob: { path: '/rte.v1.CacheWarmingService/GetWarmingJob', input: GetWarmingJobRequestSchema },
} satisfies Record<string, RpcInfo>;
export type RpcName = keyof typeof RPCS;

export interface ContractCase {
  rpc: RpcName;
  what: string;
  /** Connect JSON body (an object is JSON.stringified; a string is sent as is). */
  json?: unknown;
  /** Protobuf body for Connect binary and gRPC. */
  bin?: Uint8Array;
  code: Code;
  /** Text the error message must contain (the field path); per encoding when they differ. */
  field?: string | { json?: string; bin?: string };
  /** Extra request headers (every protocol), e.g. WarmCache's idempotency-key. */
  headers?: Record<string, string>;
}

/** The bytes of field 999 (varint 1): a field no rte.v1 message has. */
const UNKNOWN_FIELD = new BinaryWriter().tag(999, WireType.Varint).int32(1).finish();

function bin<D extends DescMessage>(schema: D, init: MessageInitShape<D>, extra?: Uint8Array): Uint8Array {
  const b = toBinary(schema, create(schema, init));
  return extra ? Buffer.concat([b, extra]) : b;
}

type Init = Record<string, unknown>;
const deepMerge = (a: Init, b: Init): Init => {
  const out: Init = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k] as Init, v as Init) : v;
  }
  return out;
};

interface RowSpec {
  what: string;
  /** JSON overrides merged into the RPC's valid base request (JSON names). */
  json?: Init;
  /** Binary overrides (protobuf-es init names) merged into the base init; `unknownField` appends field 999. */
  bin?: Init;
  unknownField?: boolean;
  rawJson?: string;
  rawBin?: Uint8Array;
  code?: Code;
  field?: ContractCase['field'];
  headers?: Record<string, string>;
}

function rows(rpc: RpcName, baseJson: Init, baseInit: Init, specs: RowSpec[]): ContractCase[] {
  const schema = RPCS[rpc].input;
  return specs.map((s) => ({
    rpc,
    what: s.what,
    ...(s.rawJson !== undefined ? { json: s.rawJson } : s.json ? { json: deepMerge(baseJson, s.json) } : {}),
    ...(s.rawBin ? { bin: s.rawBin } : s.bin || s.unknownField ? { bin: bin(schema, deepMerge(baseInit, s.bin ?? {}) as never, s.unknownField ? UNKNOWN_FIELD : undefined) } : {}),
    code: s.code ?? Code.InvalidArgument,
    ...(s.field !== undefined ? { field: s.field } : {}),
    ...(s.headers ? { headers: s.headers } : {}),
  }));
}

const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a]);
const BAD_ENUM = 99;

/** Rows every RPC gets: unknown fields, garbage bodies. */
function commonRows(rpc: RpcName, baseJson: Init, baseInit: Init): ContractCase[] {
  return rows(rpc, baseJson, baseInit, [
    { what: 'unknown top-level field', json: { notAField: 1 }, unknownField: true, field: { json: 'notAField', bin: 'unknown field number 999' } },
    { what: 'body that is not the message', rawJson: '{"oops":', rawBin: GARBAGE },
    { what: 'JSON array instead of object', rawJson: '[1,2]' },
  ]);
}

const submitJson = { clientJobId: 'contract-job', memberIds: { memberIds: ['m_0000001'] } };
const submitInit = { clientJobId: 'contract-job', memberSelector: { case: 'memberIds', value: { memberIds: ['m_0000001'] } } };
const queryJson = (q: Init) => ({ clientJobId: 'contract-q', memberQuery: q });
const queryInit = (q: Init) => ({ clientJobId: 'contract-q', memberSelector: { case: 'memberQuery', value: q } });
/** A member_query row: JSON and binary from the same filter (binary init names are the same camelCase here). */
const q = (what: string, query: Init, field: string, jsonQuery: Init = query): RowSpec & { rawJsonObj: Init } => ({ what, json: queryJson(jsonQuery), bin: queryInit(query), field, rawJsonObj: {} });
const asQueryRow = (r: ReturnType<typeof q>): ContractCase => ({
  rpc: 'SubmitBatch',
  what: r.what,
  json: r.json,
  bin: bin(SubmitBatchRequestSchema, r.bin as never),
  code: Code.InvalidArgument,
  field: r.field!,
});

const batchId = 'batch/contract-svc/no-such-job';
const warmingJobId = 'warming/contract/api-00000000000000000000000000000000';

const WARM_1001 = Array.from({ length: 1_001 }, (_, i) => `m_${i}`);
/** Unique per run: the side-effect check looks for a schedule with this name prefix (none may exist). */
export const CONTRACT_SCHEDULE_PREFIX = `contract-${randomUUID().slice(0, 8)}`;
const scheduleJson = { scheduleName: `${CONTRACT_SCHEDULE_PREFIX}-s`, cronExpression: '0 4 * * *', memberQuery: {} };
const ts = (iso: string) => timestampFromDate(new Date(iso));
const statsJson = { startTime: '2026-01-01T00:00:00Z', endTime: '2026-01-02T00:00:00Z' };
const statsInit = { startTime: ts(statsJson.startTime), endTime: ts(statsJson.endTime) };
const SOURCES_101 = Array.from({ length: 101 }, (_, i) => `source-${i}`);

export const CASES: ContractCase[] = [
  // ---- EligibilityService/CheckEligibility
  ...commonRows('CheckEligibility', { memberId: 'm_0000001' }, { memberId: 'm_0000001' }),
  ...rows('CheckEligibility', { memberId: 'm_0000001' }, { memberId: 'm_0000001' }, [
    { what: 'cache_control without its prefix', json: { cacheControl: 'CACHE_ONLY' }, bin: { cacheControl: BAD_ENUM }, field: 'cache_control' },
    { what: 'member_id missing', json: { memberId: '' }, bin: { memberId: '' }, field: 'member_id' },
    { what: 'member_id with whitespace', json: { memberId: 'm 1' }, bin: { memberId: 'm 1' }, field: 'member_id' },
    { what: 'member_id too long', json: { memberId: 'm'.repeat(65) }, bin: { memberId: 'm'.repeat(65) }, field: 'member_id' },
    { what: 'operation malformed', json: { operation: 'Not An Op' }, bin: { operation: 'Not An Op' }, field: 'operation' },
    { what: 'operation unknown', json: { operation: 'teleport' }, bin: { operation: 'teleport' }, field: 'operation' },
    { what: 'service type code malformed', json: { serviceTypeCodes: ['30', '??'] }, bin: { serviceTypeCodes: ['30', '??'] }, field: 'service_type_codes[1]' },
    { what: 'service type codes oversize', json: { serviceTypeCodes: Array(100).fill('30') }, bin: { serviceTypeCodes: Array(100).fill('30') }, field: 'service_type_codes' },
    { what: 'provider_npi malformed', json: { providerNpi: '12ab' }, bin: { providerNpi: '12ab' }, field: 'provider_npi' },
    { what: 'payer_id malformed', json: { payerId: 'a-b c' }, bin: { payerId: 'a-b c' }, field: 'payer_id' },
  ]),

  // ---- BatchEligibilityService/SubmitBatch
  ...commonRows('SubmitBatch', submitJson, submitInit),
  ...rows('SubmitBatch', submitJson, submitInit, [
    { what: 'cache_control without its prefix', json: { cacheControl: 'CACHE_ONLY' }, bin: { cacheControl: BAD_ENUM }, field: 'cache_control' },
    { what: 'unknown priority', json: { options: { priority: 'PRIORITY_ULTRA' } }, bin: { options: { priority: BAD_ENUM } }, field: { json: 'priority', bin: 'options.priority' } },
    { what: 'unknown strategy', json: { options: { strategy: 'STRATEGY_FASTEST' } }, bin: { options: { strategy: BAD_ENUM } }, field: { json: 'strategy', bin: 'options.strategy' } },
    { what: 'unknown scheduling window', json: { options: { schedulingWindow: 'NIGHT' } }, bin: { options: { schedulingWindow: BAD_ENUM } }, field: { json: 'scheduling_window', bin: 'options.scheduling_window' } },
    { what: 'unknown delivery mode', json: { options: { notifications: { deliveryMode: 'DELIVERY_TWICE' } } }, bin: { options: { notifications: { deliveryMode: BAD_ENUM } } }, field: { json: 'delivery_mode', bin: 'options.notifications.delivery_mode' } },
    { what: 'unknown nested field', json: { options: { turbo: true } }, field: 'turbo' },
    { what: 'client_job_id missing', json: { clientJobId: '' }, bin: { clientJobId: '' }, field: 'client_job_id' },
    { what: 'client_job_id with a slash', json: { clientJobId: 'a/b' }, bin: { clientJobId: 'a/b' }, field: 'client_job_id' },
    { what: 'client_service_name with a space', json: { clientServiceName: 'a b' }, bin: { clientServiceName: 'a b' }, field: 'client_service_name' },
    { what: 'no member selector', json: { memberIds: null }, bin: { memberSelector: { case: undefined } }, field: 'member_selector' },
    { what: 'empty member id list', json: { memberIds: { memberIds: [] } }, bin: { memberSelector: { case: 'memberIds', value: { memberIds: [] } } }, field: 'member_ids.member_ids' },
    { what: 'member id with whitespace', json: { memberIds: { memberIds: ['m_1', 'm 2'] } }, bin: { memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm 2'] } } }, field: 'member_ids.member_ids[1]' },
    { what: 'oversize member id list (100,001)', json: { memberIds: { memberIds: Array.from({ length: 100_001 }, (_, i) => `m${i}`) } }, field: 'member_ids.member_ids' },
    { what: 'max_concurrent_requests over 15', json: { options: { maxConcurrentRequests: 16 } }, bin: { options: { maxConcurrentRequests: 16 } }, field: 'options.max_concurrent_requests' },
    { what: 'max_concurrent_requests negative', json: { options: { maxConcurrentRequests: -1 } }, bin: { options: { maxConcurrentRequests: -1 } }, field: 'options.max_concurrent_requests' },
    { what: 'max_concurrent_requests beyond int32', json: { options: { maxConcurrentRequests: 4294967296 } }, field: 'max_concurrent_requests' },
    { what: 'timeout too short', json: { options: { timeout: '1s' } }, bin: { options: { timeout: { seconds: 1n } } }, field: 'options.timeout' },
    { what: 'timeout too long', json: { options: { timeout: '999999s' } }, bin: { options: { timeout: { seconds: 999_999n } } }, field: 'options.timeout' },
    { what: 'retry max_attempts over 10', json: { options: { retryConfig: { maxAttempts: 11 } } }, bin: { options: { retryConfig: { maxAttempts: 11 } } }, field: 'options.retry_config.max_attempts' },
    { what: 'retry backoff_multiplier over 10', json: { options: { retryConfig: { backoffMultiplier: 100 } } }, bin: { options: { retryConfig: { backoffMultiplier: 100 } } }, field: 'options.retry_config.backoff_multiplier' },
    { what: 'callback_url not allowed', json: { options: { callbackUrl: 'https://evil.example/hook' } }, bin: { options: { callbackUrl: 'https://evil.example/hook' } }, field: 'options.callback_url' },
    { what: 'kafka_topic not allowed', json: { options: { notifications: { kafkaTopic: 'other.topic' } } }, bin: { options: { notifications: { kafkaTopic: 'other.topic' } } }, field: 'options.notifications.kafka_topic' },
    { what: 'webhook event types without a callback_url', json: { options: { notifications: { eventTypes: ['COMPLETED'] } } }, bin: { options: { notifications: { eventTypes: ['COMPLETED'] } } }, field: 'options.notifications.event_types' },
    { what: 'unknown webhook event type', json: { options: { notifications: { eventTypes: ['EXPLODED'] } } }, bin: { options: { notifications: { eventTypes: ['EXPLODED'] } } }, field: 'options.notifications.event_types[0]' },
  ]),
  ...[
    q('member_query.limit over 10,000', { limit: 20_000 }, 'member_query.limit'),
    q('member_query.limit negative', { limit: -1 }, 'member_query.limit'),
    q('member_query.cursor set', { cursor: 'eyJ0IjoiMjAyNiJ9' }, 'member_query.cursor'),
    q('member_query min_age > max_age', { demographicsFilter: { minAge: 50, maxAge: 20 } }, 'member_query.demographics_filter.min_age'),
    q('member_query malformed predicate', { predicateFilter: { expression: 'age >>> 3' } }, 'member_query.predicate_filter.expression'),
    q('member_query unknown cohort', { engagementFilter: { cohorts: [BAD_ENUM] } }, 'cohorts', { engagementFilter: { cohorts: ['SLEEPY'] } }),
    q('member_query ACCOUNT_STATUS_UNSPECIFIED in a list', { accountStatuses: [0] }, 'member_query.account_statuses[0]', { accountStatuses: ['ACCOUNT_STATUS_UNSPECIFIED'] }),
    q('member_query unknown scheduling_window', { schedulingWindow: BAD_ENUM }, 'scheduling_window', { schedulingWindow: 'SCHEDULING_WINDOW_NIGHT' }),
    q('member_query unknown sort field', { sortOrder: { field: BAD_ENUM } }, 'sort_order.field', { sortOrder: { field: 'BY_MOOD' } }),
    q('member_query empty sponsor id', { sponsorIds: [''] }, 'member_query.sponsor_ids[0]'),
    q('member_query unknown sponsor id', { sponsorIds: ['NO_SUCH_SPONSOR_TYPO'] }, 'member_query.sponsor_ids[0]'),
    q('member_query unknown feature flag', { requiredFeatureFlags: { 'no-such-flag': false } }, 'member_query.required_feature_flags["no-such-flag"]'),
  ].map(asQueryRow),

  // ---- GetBatchStatus
  ...commonRows('GetBatchStatus', { batchId }, { batchId }),
  ...rows('GetBatchStatus', { batchId }, { batchId }, [
    { what: 'batch_id missing', json: { batchId: '' }, bin: { batchId: '' }, field: 'batch_id' },
    { what: 'batch_id not a batch id', json: { batchId: 'nope' }, bin: { batchId: 'nope' }, field: 'batch_id' },
    { what: 'errors_page_size negative', json: { errorsPageSize: -1 }, bin: { errorsPageSize: -1 }, field: 'errors_page_size' },
    { what: 'errors_page_token garbage', json: { errorsPageToken: 'garbage' }, bin: { errorsPageToken: 'garbage' }, field: 'errors_page_token' },
    {
      what: 'errors_page_token forged (old unsigned format)',
      json: { errorsPageToken: Buffer.from('{"a":"1; drop"}').toString('base64url') },
      bin: { errorsPageToken: Buffer.from('{"a":"1; drop"}').toString('base64url') },
      field: 'errors_page_token',
    },
    { what: 'well-formed id of no batch', json: { batchId }, bin: { batchId }, code: Code.NotFound, field: batchId },
  ]),

  // ---- ListBatches
  ...commonRows('ListBatches', {}, {}),
  ...rows('ListBatches', {}, {}, [
    { what: 'unknown status', json: { statuses: ['BATCH_STATUS_RUNNING', 'BATCH_STATUS_NOPE'] }, bin: { statuses: [1, BAD_ENUM] }, field: { json: 'statuses', bin: 'statuses[1]' } },
    { what: 'page_size negative', json: { pageSize: -1 }, bin: { pageSize: -1 }, field: 'page_size' },
    { what: 'page_token garbage', json: { pageToken: 'garbage' }, bin: { pageToken: 'garbage' }, field: 'page_token' },
    { what: 'page_token forged (raw Temporal token)', json: { pageToken: Buffer.from('temporal').toString('base64url') }, bin: { pageToken: Buffer.from('temporal').toString('base64url') }, field: 'page_token' },
    { what: 'client_service_name malformed', json: { clientServiceName: "x' OR 1=1" }, bin: { clientServiceName: "x' OR 1=1" }, field: 'client_service_name' },
    { what: 'submitted_after not a timestamp', json: { submittedAfter: 'yesterday' }, field: 'submitted_after' },
    { what: 'submitted_after beyond year 9999', bin: { submittedAfter: { seconds: 1_000_000_000_000_000n, nanos: 0 } }, field: 'submitted_after' },
    { what: 'submitted_before with negative nanos', bin: { submittedBefore: { seconds: 1n, nanos: -5 } }, field: 'submitted_before' },
    {
      what: 'inverted submitted range',
      json: { submittedAfter: '2027-01-01T00:00:00Z', submittedBefore: '2026-01-01T00:00:00Z' },
      bin: { submittedAfter: ts('2027-01-01T00:00:00Z'), submittedBefore: ts('2026-01-01T00:00:00Z') },
      field: 'submitted_before',
    },
  ]),

  // ---- CancelBatch
  ...commonRows('CancelBatch', { batchId }, { batchId }),
  ...rows('CancelBatch', { batchId }, { batchId }, [
    { what: 'batch_id missing', json: { batchId: '' }, bin: { batchId: '' }, field: 'batch_id' },
    { what: 'batch_id not a batch id', json: { batchId: 'batch/x' }, bin: { batchId: 'batch/x' }, field: 'batch_id' },
    { what: 'reason over 500 characters', json: { reason: 'r'.repeat(501) }, bin: { reason: 'r'.repeat(501) }, field: 'reason' },
    { what: 'well-formed id of no batch', json: { batchId }, bin: { batchId }, code: Code.NotFound, field: batchId },
  ]),

  // ---- PauseBatch / ResumeBatch
  ...(['PauseBatch', 'ResumeBatch'] as const).flatMap((rpc) => [
    ...commonRows(rpc, { batchId }, { batchId }),
    ...rows(rpc, { batchId }, { batchId }, [
      { what: 'batch_id missing', json: { batchId: '' }, bin: { batchId: '' }, field: 'batch_id' },
      { what: 'batch_id not a batch id', json: { batchId: 'batch/x' }, bin: { batchId: 'batch/x' }, field: 'batch_id' },
      { what: 'reason over 500 characters', json: { reason: 'r'.repeat(501) }, bin: { reason: 'r'.repeat(501) }, field: 'reason' },
      { what: 'well-formed id of no batch', json: { batchId }, bin: { batchId }, code: Code.NotFound, field: batchId },
    ]),
  ]),

  // ---- WatchBatchStatus (server streaming)
  ...commonRows('WatchBatchStatus', { batchId }, { batchId }).filter((c) => c.what !== 'JSON array instead of object'),
  ...rows('WatchBatchStatus', { batchId }, { batchId }, [
    { what: 'batch_id not a batch id', json: { batchId: 'nope' }, bin: { batchId: 'nope' }, field: 'batch_id' },
    { what: 'unknown event type', json: { eventTypes: ['EVENT_TYPE_EXPLODED'] }, bin: { eventTypes: [BAD_ENUM] }, field: { json: 'event_types', bin: 'event_types[0]' } },
    { what: 'well-formed id of no batch', json: { batchId }, bin: { batchId }, code: Code.NotFound, field: batchId },
  ]),

  // ---- CacheWarmingService/WarmCache (the base request is valid: one member, defaults)
  ...commonRows('WarmCache', { memberIds: ['m_0000001'] }, { memberIds: ['m_0000001'] }),
  ...rows('WarmCache', { memberIds: ['m_0000001'] }, { memberIds: ['m_0000001'] }, [
    { what: 'unknown strategy', json: { strategy: 'WARMING_STRATEGY_MAGIC' }, bin: { strategy: BAD_ENUM }, field: 'strategy' },
    { what: 'unknown priority', json: { priority: 'PRIORITY_NOW' }, bin: { priority: BAD_ENUM }, field: 'priority' },
    { what: 'unknown strategy number in JSON', json: { strategy: BAD_ENUM }, field: 'strategy' },
    { what: 'unknown priority number in JSON', json: { priority: BAD_ENUM }, field: 'priority' },
    { what: 'strategy without its prefix', json: { strategy: 'FORCE' }, field: 'strategy' },
    { what: 'empty member_ids', json: { memberIds: [] }, bin: { memberIds: [] }, field: 'member_ids' },
    { what: 'oversize member_ids (1,001)', json: { memberIds: WARM_1001 }, bin: { memberIds: WARM_1001 }, field: 'member_ids' },
    { what: 'blank member id', json: { memberIds: ['m_1', ' '] }, bin: { memberIds: ['m_1', ' '] }, field: 'member_ids[1]' },
    { what: 'duplicate member id', json: { memberIds: ['m_1', 'm_1'] }, bin: { memberIds: ['m_1', 'm_1'] }, field: 'member_ids[1]' },
    { what: 'member id too long', json: { memberIds: ['m'.repeat(129)] }, bin: { memberIds: ['m'.repeat(129)] }, field: 'member_ids[0]' },
    { what: 'member id with a leading space', json: { memberIds: ['m_1', ' m_2'] }, bin: { memberIds: ['m_1', ' m_2'] }, field: 'member_ids[1]' },
    { what: 'member id with a NUL', json: { memberIds: ['m_1\u0000'] }, bin: { memberIds: ['m_1\u0000'] }, field: 'member_ids[0]' },
    { what: 'unknown operation', json: { operations: ['teleport'] }, bin: { operations: ['teleport'] }, field: 'operations[0]' },
    { what: 'duplicate operation', json: { operations: ['check_eligibility', 'check_eligibility'] }, bin: { operations: ['check_eligibility', 'check_eligibility'] }, field: 'operations[1]' },
    { what: 'oversize source (101 characters)', json: { source: 's'.repeat(101) }, bin: { source: 's'.repeat(101) }, field: 'source' },
    { what: 'source with a space', json: { source: 'manual trigger' }, bin: { source: 'manual trigger' }, field: 'source' },
    { what: 'idempotency key too long', json: {}, bin: {}, headers: { 'idempotency-key': 'k'.repeat(201) }, field: 'idempotency-key' },
    { what: 'idempotency key with a space', json: {}, bin: {}, headers: { 'idempotency-key': 'my key' }, field: 'idempotency-key' },
  ]),

  // ---- CacheWarmingService/ScheduleWarming (the base request is valid; no row may create a schedule)
  ...commonRows('ScheduleWarming', scheduleJson, scheduleJson),
  ...rows('ScheduleWarming', scheduleJson, scheduleJson, [
    { what: 'unknown enum inside member_query', json: { memberQuery: { accountStatuses: ['ZOMBIE'] } }, bin: { memberQuery: { accountStatuses: [BAD_ENUM] } }, field: { json: 'account_statuses', bin: 'member_query.account_statuses[0]' } },
    { what: 'unknown strategy', json: { strategy: 'WARMING_STRATEGY_MAGIC' }, bin: { strategy: BAD_ENUM }, field: 'strategy' },
    { what: 'unknown priority', json: { priority: 'PRIORITY_NOW' }, bin: { priority: BAD_ENUM }, field: 'priority' },
    { what: 'unknown priority number in JSON', json: { priority: BAD_ENUM }, field: 'priority' },
    { what: 'empty schedule_name', json: { scheduleName: '' }, bin: { scheduleName: '' }, field: 'schedule_name' },
    { what: 'oversize schedule_name (64 characters)', json: { scheduleName: 'a'.repeat(64) }, bin: { scheduleName: 'a'.repeat(64) }, field: 'schedule_name' },
    { what: 'schedule_name with upper case and a slash', json: { scheduleName: 'Morning/x' }, bin: { scheduleName: 'Morning/x' }, field: 'schedule_name' },
    { what: 'cron_expression missing', json: { cronExpression: '' }, bin: { cronExpression: '' }, field: 'cron_expression' },
    { what: 'cron_expression not a cron', json: { cronExpression: 'every morning' }, bin: { cronExpression: 'every morning' }, field: 'cron_expression' },
    { what: 'cron_expression minute out of range', json: { cronExpression: '61 4 * * *' }, bin: { cronExpression: '61 4 * * *' }, field: 'cron_expression' },
    { what: 'member_query missing', json: { memberQuery: null }, bin: { memberQuery: undefined }, field: 'member_query' },
    { what: 'member_query malformed predicate', json: { memberQuery: { predicateFilter: { expression: 'age >>> 3' } } }, bin: { memberQuery: { predicateFilter: { expression: 'age >>> 3' } } }, field: 'member_query.predicate_filter.expression' },
    { what: 'member_query predicate over an unknown field', json: { memberQuery: { predicateFilter: { expression: 'shoe_size > 3' } } }, bin: { memberQuery: { predicateFilter: { expression: 'shoe_size > 3' } } }, field: 'member_query.predicate_filter.expression' },
    { what: 'member_query min_age > max_age', json: { memberQuery: { demographicsFilter: { minAge: 50, maxAge: 20 } } }, bin: { memberQuery: { demographicsFilter: { minAge: 50, maxAge: 20 } } }, field: 'member_query.demographics_filter.min_age' },
    { what: 'member_query.cursor set', json: { memberQuery: { cursor: 'abc' } }, bin: { memberQuery: { cursor: 'abc' } }, field: 'member_query.cursor' },
    { what: 'member_query.limit set', json: { memberQuery: { limit: 10 } }, bin: { memberQuery: { limit: 10 } }, field: 'member_query.limit' },
    // A warming job's window comes from its priority: a query's window would be stored and never applied.
    { what: 'member_query.scheduling_window set', json: { memberQuery: { schedulingWindow: 'SCHEDULING_WINDOW_MORNING' } }, bin: { memberQuery: { schedulingWindow: 2 } }, field: 'member_query.scheduling_window' },
    { what: 'member_query unknown sponsor id', json: { memberQuery: { sponsorIds: ['NO_SUCH_SPONSOR_TYPO'] } }, bin: { memberQuery: { sponsorIds: ['NO_SUCH_SPONSOR_TYPO'] } }, field: 'member_query.sponsor_ids[0]' },
    { what: 'member_query unknown feature flag', json: { memberQuery: { requiredFeatureFlags: { 'no-such-flag': false } } }, bin: { memberQuery: { requiredFeatureFlags: { 'no-such-flag': false } } }, field: 'member_query.required_feature_flags["no-such-flag"]' },
  ]),

  // ---- CacheWarmingService/GetWarmingStats (the base request is valid: one day). A well-formed source that no
  // warm carries is not an error: it answers zeros (docs/warming-stats.md).
  ...commonRows('GetWarmingStats', statsJson, statsInit),
  ...rows('GetWarmingStats', statsJson, statsInit, [
    { what: 'start_time missing', json: { startTime: null }, bin: { startTime: undefined }, field: 'start_time' },
    { what: 'end_time missing', json: { endTime: null }, bin: { endTime: undefined }, field: 'end_time' },
    { what: 'inverted range', json: { startTime: '2026-01-03T00:00:00Z' }, bin: { startTime: ts('2026-01-03T00:00:00Z') }, field: 'end_time' },
    { what: 'empty range', json: { endTime: '2026-01-01T00:00:00Z' }, bin: { endTime: ts('2026-01-01T00:00:00Z') }, field: 'end_time' },
    { what: 'oversize range (94 days)', json: { endTime: '2026-04-05T00:00:00Z' }, bin: { endTime: ts('2026-04-05T00:00:00Z') }, field: 'end_time' },
    { what: 'start_time before 2000', json: { startTime: '1999-12-31T00:00:00Z' }, bin: { startTime: ts('1999-12-31T00:00:00Z') }, field: 'start_time' },
    { what: 'start_time not a timestamp', json: { startTime: 'yesterday' }, field: 'start_time' },
    { what: 'too many sources (101)', json: { sources: SOURCES_101 }, bin: { sources: SOURCES_101 }, field: 'sources' },
    { what: 'source with a control character', json: { sources: ['ok', 'bad\u0001'] }, bin: { sources: ['ok', 'bad\u0001'] }, field: 'sources[1]' },
    { what: 'source starting with a space', json: { sources: [' member-cron'] }, bin: { sources: [' member-cron'] }, field: 'sources[0]' },
    { what: 'oversize source (129 characters)', json: { sources: ['s'.repeat(129)] }, bin: { sources: ['s'.repeat(129)] }, field: 'sources[0]' },
  ]),

  // ---- CacheWarmingService/GetWarmingJob (the base request is a well-formed id of no job: not_found naming it)
  ...commonRows('GetWarmingJob', { jobId: warmingJobId }, { jobId: warmingJobId }),
  ...rows('GetWarmingJob', { jobId: warmingJobId }, { jobId: warmingJobId }, [
    { what: 'job_id missing', json: { jobId: '' }, bin: { jobId: '' }, field: 'job_id' },
    { what: 'job_id a batch id', json: { jobId: 'batch/svc/job-1' }, bin: { jobId: 'batch/svc/job-1' }, field: 'job_id' },
    { what: 'job_id of a child batch', json: { jobId: `${warmingJobId}/p0/check_eligibility/realtime` }, bin: { jobId: `${warmingJobId}/p0/check_eligibility/realtime` }, field: 'job_id' },
    { what: 'job_id with a space', json: { jobId: 'warming/manual trigger/x' }, bin: { jobId: 'warming/manual trigger/x' }, field: 'job_id' },
    { what: 'job_id not a string', rawJson: '{"jobId":42}', field: 'job_id' },
    { what: 'well-formed id of no job', json: {}, bin: {}, code: Code.NotFound, field: warmingJobId },
  ]),
];

// ---- SubmitBatchStreaming (server streaming): SubmitBatch's request and validation, so every SubmitBatch row
// (member_query rows included) must be refused the same way, at once, before the stream's first update.
CASES.push(...CASES.filter((c) => c.rpc === 'SubmitBatch').map((c) => ({ ...c, rpc: 'SubmitBatchStreaming' as const })));
