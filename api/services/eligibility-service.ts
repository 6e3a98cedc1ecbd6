import { isTemporalUnavailable } from '../interceptors';
import { isInfrastructureError } from '../../lib/infra-retry';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { CacheControl, CacheMetadataSchema, CacheStatus, type CacheMetadata } from '../../gen/rte/v1/common_pb';
import {
  CheckEligibilityResponseSchema,
  type CheckEligibilityRequest,
  type CheckEligibilityResponse,
  type EligibilityService,
} from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCache, EligibilityCacheEntry } from '../../activities/cache';
import type { PredictionUsageObserver } from '../../activities/prediction-accuracy/metrics';
import type { ReadResult } from '../../activities/warming-usage/ports';
import type { WarmUsageRecorder } from '../../activities/warming-usage/recorder';
import { decideCacheAction, httpCacheControlHeader, parseRequestCacheControl, type CacheMode } from '../../lib/cache-policy';
import { ErrorType, FieldError } from '../../lib/errors';
import { hashMemberId } from '../../lib/member-hash';
import { cacheOperationOf, DEFAULT_ELIGIBILITY_OPERATION, KNOWN_OPERATIONS, REVALIDATE_CLIENT_SERVICE } from '../../lib/operations';
import type { Metrics } from '../../lib/metrics';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { toCoverageMessage, toErrorDetails } from '../coverage-mapping';
import { principalKey } from '../auth';
import type { EligibilityRefresher } from '../eligibility-refresher';

export const DEFAULT_OPERATION = DEFAULT_ELIGIBILITY_OPERATION;
/** Response header carrying the cache status, also on errors (a CACHE_ONLY miss answers not_found with MISS). */
export const CACHE_STATUS_HEADER = 'rte-cache-status';
/**
 * Request header naming where a check comes from. Absent or `interactive`: a person using an app (the
 * prediction-accuracy loop counts it as usage). Anything else (`batch`, `warming`, `verification`, ...)
 * is tooling reading the cache and is not usage.
 */
export const REQUEST_SOURCE_HEADER = 'rte-request-source';

const MODE_BY_ENUM: Record<number, CacheMode> = {
  [CacheControl.DEFAULT]: 'DEFAULT',
  [CacheControl.CACHE_ONLY]: 'CACHE_ONLY',
  [CacheControl.PREFER_CACHED]: 'PREFER_CACHED',
  [CacheControl.BYPASS_CACHE]: 'BYPASS_CACHE',
  [CacheControl.STALE_WHILE_REVALIDATE]: 'STALE_WHILE_REVALIDATE',
};
const STATUS_ENUM = { HIT: CacheStatus.HIT, MISS: CacheStatus.MISS, STALE: CacheStatus.STALE, ERROR: CacheStatus.ERROR } as const;

/** How long a live check's "a person waits" mark lasts: a joined revalidation waits for its slot at most this long. */
const PROMOTION_TTL_SECONDS = 120;

const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const OPERATION = /^[a-z][a-z0-9_]{0,39}$/;
const SERVICE_TYPE_CODE = /^[0-9A-Z]{1,2}$/;
const PAYER_ID = /^[A-Za-z0-9]{1,80}$/;
const NPI = /^\d{10}$/;

export interface EligibilityServiceDeps {
  cache: Pick<EligibilityCache, 'get' | 'tryClaimRefresh' | 'promoteRefresh'>;
  refresher: EligibilityRefresher;
  memberHashSecret: string;
  metrics: Metrics;
  logger: Logger;
  /** How long a request waits for a live refresh before answering deadline_exceeded (the refresh continues). */
  refreshWaitMs: number;
  now?: () => number;
  /** Online prediction accuracy: an interactive check marks the member's open member-cron prediction used. */
  predictionUsage?: PredictionUsageObserver;
  /** Callers (JWT `sub`) whose checks are never app usage: batch verification, load benches, internal services. */
  nonInteractiveCallers?: ReadonlySet<string>;
  /**
   * Warm usage: every interactive read that consults the cache (not BYPASS_CACHE) is counted per hour, warmed or
   * not, and a HIT/STALE served from a warming-sourced entry marks that warm used. Buffered; never blocks a read.
   */
  warmUsage?: WarmUsageRecorder;
}

const DECLARED_SOURCES: ReadonlySet<string> = new Set(['batch', 'warming', 'verification', 'bench']);

/**
 * The `source` label of rte_requests_total for a CheckEligibility: `realtime` for an app (no header, or
 * `interactive`), the declared source when it is a known one, else `other` (the header is free text: never a label).
 */
export function requestSourceLabel(sourceHeader: string | null): string {
  const source = sourceHeader?.trim().toLowerCase();
  if (!source || source === 'interactive') return 'realtime';
  return DECLARED_SOURCES.has(source) ? source : 'other';
}

/** Whether a validated CheckEligibility is a person using an app (see REQUEST_SOURCE_HEADER). */
export function isInteractiveUsage(sourceHeader: string | null, caller: string | undefined, nonInteractiveCallers: ReadonlySet<string>): boolean {
  const source = sourceHeader?.trim().toLowerCase();
  if (source && source !== 'interactive') return false;
  return !(caller !== undefined && nonInteractiveCallers.has(caller));
}

interface ValidatedRequest {
  memberId: string;
  /** Operation plus overrides: the cache key's operation part and the refresh workflow's id suffix. */
  operationKey: string;
  mode: CacheMode;
  refreshInput: Omit<EligibilityRefreshInput, 'requester' | 'source'>;
}

const ENUM_NAME_OF_MODE: Record<CacheMode, string> = {
  DEFAULT: 'CACHE_CONTROL_DEFAULT',
  CACHE_ONLY: 'CACHE_CONTROL_CACHE_ONLY',
  PREFER_CACHED: 'CACHE_CONTROL_PREFER_CACHED',
  BYPASS_CACHE: 'CACHE_CONTROL_BYPASS_CACHE',
  STALE_WHILE_REVALIDATE: 'CACHE_CONTROL_STALE_WHILE_REVALIDATE',
};

/**
 * Validates a request; names the offending field. The request header `Cache-Control` selects the mode when the
 * message leaves cache_control unset (DEFAULT), in two kinds:
 * - `only-if-cached` (CACHE_ONLY) and `max-stale` (PREFER_CACHED) can only spare Stedi calls: honoured on every
 *   transport (Connect POST and GET, gRPC metadata; probe p18 F7: on a POST `only-if-cached` made a live call). One
 *   that differs from an explicit cache_control is refused naming it: neither silently wins.
 * - `no-cache` / `no-store` / `max-age=0` (BYPASS_CACHE) force a billed ~13.5 s Stedi call and a slot. Browsers add
 *   them unasked (DevTools' "Disable cache", a reload) and so do proxies, so they count only on a Connect GET, the
 *   HTTP-caching form, and only when the message names no mode; a POST or gRPC call asks for BYPASS_CACHE in the
 *   message. Documented in the README and docs/api-errors.md.
 */
export function validateCheckEligibility(req: CheckEligibilityRequest, cacheControlHeader: string | null, httpGet = false): ValidatedRequest {
  if (req.memberId === '') throw new FieldError('member_id', 'is required');
  if (!MEMBER_ID.test(req.memberId)) throw new FieldError('member_id', 'must be 1-64 characters of letters, digits, _ . : -');
  const operation = req.operation === '' ? DEFAULT_OPERATION : req.operation;
  if (!OPERATION.test(operation)) throw new FieldError('operation', 'must match [a-z][a-z0-9_]{0,39}');
  // The entry the operation's answer lives in (get_benefits reads the eligibility check's, the one WarmCache warms);
  // an unknown name would have made a live check under a new key for the very same Stedi answer.
  const cacheOperation = cacheOperationOf(operation);
  if (cacheOperation === undefined) throw new FieldError('operation', `unknown operation "${operation}" (known: ${KNOWN_OPERATIONS.join(', ')})`);
  if (req.serviceTypeCodes.length > 99) throw new FieldError('service_type_codes', 'at most 99 codes');
  req.serviceTypeCodes.forEach((c, i) => {
    if (!SERVICE_TYPE_CODE.test(c)) throw new FieldError(`service_type_codes[${i}]`, `"${c}" is not an X12 service type code`);
  });
  if (req.payerId !== '' && !PAYER_ID.test(req.payerId)) throw new FieldError('payer_id', 'must be 1-80 letters or digits');
  if (req.providerNpi !== '' && !NPI.test(req.providerNpi)) throw new FieldError('provider_npi', 'must be a 10-digit NPI');
  const fromEnum = MODE_BY_ENUM[req.cacheControl];
  if (!fromEnum) throw new FieldError('cache_control', `unknown value ${req.cacheControl}`);
  const parsed = parseRequestCacheControl(cacheControlHeader);
  // A BYPASS from the header counts only on a GET, and never against an explicit mode (see above).
  const fromHeader = parsed === 'BYPASS_CACHE' && (!httpGet || req.cacheControl !== CacheControl.DEFAULT) ? undefined : parsed;
  if (fromHeader !== undefined && req.cacheControl !== CacheControl.DEFAULT && fromHeader !== fromEnum) {
    throw new FieldError(
      'cache_control',
      `${ENUM_NAME_OF_MODE[fromEnum]} conflicts with the request header Cache-Control: ${cacheControlHeader!.slice(0, 100)} (which selects ${ENUM_NAME_OF_MODE[fromHeader]}); send one of them, or the same mode in both`,
    );
  }
  const mode = req.cacheControl === CacheControl.DEFAULT ? (fromHeader ?? 'DEFAULT') : fromEnum;

  // Issue 14: the usual read names no service types, payer or NPI: its key and refresh input need no sorting or joins.
  if (req.serviceTypeCodes.length === 0 && req.payerId === '' && req.providerNpi === '') {
    return { memberId: req.memberId, operationKey: cacheOperation, mode, refreshInput: { memberId: req.memberId, operation: cacheOperation } };
  }
  const stcs = [...new Set(req.serviceTypeCodes)].sort();
  // Requests that ask Stedi something different must not share a cache entry.
  const suffix = [stcs.length > 0 && !(stcs.length === 1 && stcs[0] === '30') ? `stc-${stcs.join('-')}` : '', req.payerId ? `payer-${req.payerId}` : '', req.providerNpi ? `npi-${req.providerNpi}` : '']
    .filter(Boolean)
    .join('.');
  const operationKey = suffix ? `${cacheOperation}.${suffix}` : cacheOperation;
  return {
    memberId: req.memberId,
    operationKey,
    mode,
    refreshInput: {
      memberId: req.memberId,
      operation: operationKey,
      ...(stcs.length > 0 ? { serviceTypeCodes: stcs } : {}),
      ...(req.payerId ? { payerId: req.payerId } : {}),
      ...(req.providerNpi ? { providerNpi: req.providerNpi } : {}),
    },
  };
}

/** Maps a failed refresh to the code a client can act on; internals stay in the server log. */
function refreshFailureToConnectError(err: unknown): ConnectError {
  let cause: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  while (cause instanceof TemporalFailure && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  switch (type) {
    case ErrorType.MemberNotFound:
      return new ConnectError('member_id: member not found in the member directory', Code.NotFound);
    case ErrorType.InvalidMemberRecord:
      // The message names the record's field, never its value.
      return new ConnectError(`the member's directory record cannot form an eligibility request (${(cause as ApplicationFailure).message}); fix the record`, Code.FailedPrecondition);
    case ErrorType.StediValidation:
      return new ConnectError('Stedi rejected the eligibility request for this member (member data incomplete or invalid)', Code.FailedPrecondition);
    case ErrorType.StediAuth:
      return new ConnectError('eligibility provider unavailable (credentials)', Code.Unavailable);
    default:
      return new ConnectError('eligibility provider unavailable; retry later', Code.Unavailable, undefined, undefined, err);
  }
}

export function createEligibilityService(deps: EligibilityServiceDeps): ServiceImpl<typeof EligibilityService> {
  const now = deps.now ?? Date.now;
  const nonInteractiveCallers = deps.nonInteractiveCallers ?? new Set<string>();

  // Issue 14: an entry the cache returns frozen (its parsed-entry memo: the same object for the same stored bytes)
  // is mapped to its coverage and error messages once; the response messages share them (nothing mutates them).
  // Its cache metadata too, while its age (whole seconds) and `cached` are the same: the timestamps are converted
  // once per entry, and an answer within the same second shares the previous answer's metadata message.
  interface EntryParts {
    coverage: ReturnType<typeof toCoverageMessage>;
    errors: ReturnType<typeof toErrorDetails>;
    expiresAt: Timestamp;
    fetchedAt: Timestamp;
    meta?: CacheMetadata;
  }
  const parts = new WeakMap<EligibilityCacheEntry, EntryParts>();
  function partsOf(entry: EligibilityCacheEntry): EntryParts {
    let p = parts.get(entry);
    if (!p) {
      // A success served with a kept "retry later" payer error shows that error: it is why the answer is stale.
      const errors = entry.outcome === 'success' && entry.lastPayerError ? [...toErrorDetails(entry.summary), ...toErrorDetails(entry.lastPayerError.summary)] : toErrorDetails(entry.summary);
      p = { coverage: toCoverageMessage(entry.summary), errors, expiresAt: timestampFromMs(entry.expiresAt), fetchedAt: timestampFromMs(entry.fetchedAt) };
      if (Object.isFrozen(entry)) parts.set(entry, p);
    }
    return p;
  }
  function metadataOf(p: EntryParts, entry: EligibilityCacheEntry, cached: boolean, at: number): CacheMetadata {
    const ageSeconds = Math.max(0, Math.floor((at - entry.fetchedAt) / 1000));
    const m = p.meta;
    if (m && m.ageSeconds === ageSeconds && m.cached === cached) return m;
    return (p.meta = create(CacheMetadataSchema, { cached, ageSeconds, expiresAt: p.expiresAt, fetchedAt: p.fetchedAt, source: entry.source }));
  }

  function respond(
    ctx: HandlerContext,
    memberId: string,
    entry: EligibilityCacheEntry,
    status: keyof typeof STATUS_ENUM,
    cached: boolean,
    at: number,
  ): CheckEligibilityResponse {
    ctx.responseHeader.set('cache-control', httpCacheControlHeader(entry, at));
    // Origin too: with CORS_ALLOWED_ORIGINS the answer's CORS headers depend on it (this header replaces api/cors.ts's Vary).
    ctx.responseHeader.set('vary', 'Authorization, Origin');
    ctx.responseHeader.set(CACHE_STATUS_HEADER, status);
    const p = partsOf(entry);
    return create(CheckEligibilityResponseSchema, {
      memberId,
      coverage: p.coverage,
      stediCheckId: entry.stediCheckId ?? '',
      cacheStatus: STATUS_ENUM[status],
      cacheMetadata: metadataOf(p, entry, cached, at),
      errors: p.errors,
    });
  }

  return {
    async checkEligibility(req, ctx) {
      const started = now();
      // Connect GET and POST headers and gRPC metadata all arrive as request headers; which directives count where:
      // validateCheckEligibility.
      const v = validateCheckEligibility(req, ctx.requestHeader.get('cache-control'), ctx.requestMethod === 'GET');
      const modeLabel = v.mode.toLowerCase();
      deps.metrics.requests.inc({ source: requestSourceLabel(ctx.requestHeader.get(REQUEST_SOURCE_HEADER)) });
      let result = 'failure';
      const memberHash = hashMemberId(deps.memberHashSecret, v.memberId);
      const interactive = isInteractiveUsage(ctx.requestHeader.get(REQUEST_SOURCE_HEADER), ctx.values.get(principalKey)?.service, nonInteractiveCallers);
      // What the cache did for this read (set once the cache was consulted); recorded in `finally`.
      let read: { result: ReadResult; entry: EligibilityCacheEntry | null } | undefined;
      if (deps.predictionUsage && interactive) {
        // Fire and forget (one Redis script call, not awaited): the answer never waits for it, and a
        // failure is logged and counted by the observer, never seen by the caller. Any validated
        // interactive check is usage, whatever the cache or Stedi answer turns out to be.
        deps.predictionUsage.observe(memberHash, started);
      }
      try {
        const entry = await deps.cache.get(v.memberId, v.operationKey);
        const decision = decideCacheAction(v.mode, entry, started);
        // Anything that is not served from the cache below is a miss for the hit rate (a live check, or none).
        read = { result: 'MISS', entry };
        if (decision.action === 'miss-error') {
          result = 'miss';
          throw new ConnectError(
            'cache miss: nothing cached for this member id + operation + overrides (service_type_codes, payer_id, provider_npi: each combination is its own entry; WarmCache warms the one without overrides); CACHE_ONLY never calls Stedi',
            Code.NotFound,
            { [CACHE_STATUS_HEADER]: 'MISS' },
          );
        }
        if (decision.action === 'serve' && entry) {
          result = decision.cacheStatus.toLowerCase();
          read = { result: decision.cacheStatus, entry };
          return respond(ctx, v.memberId, entry, decision.cacheStatus, true, started);
        }
        if (decision.action === 'serve-and-refresh' && entry) {
          result = 'stale';
          read = { result: 'STALE', entry };
          // At most one background refresh per member + operation; the workflow id also de-duplicates.
          if (await deps.cache.tryClaimRefresh(v.memberId, v.operationKey, 120)) {
            deps.refresher
              .refreshInBackground({
                ...v.refreshInput,
                requester: { kind: 'batch', clientService: REVALIDATE_CLIENT_SERVICE, priority: 'HIGH' },
                source: 'realtime',
                satisfiedByFetchAfter: started,
              })
              .catch((err: unknown) => deps.logger.warn({ err, memberHash }, 'background refresh could not start'));
          }
          return respond(ctx, v.memberId, entry, 'STALE', true, started);
        }

        // fetch: a live check through the single-flight refresh workflow.
        // A person now waits on it: if it joins a background revalidation (batch slot class), that refresh moves to the
        // interactive class while it waits for its slot. Not awaited: the refresh reads the mark while it queues.
        deps.cache.promoteRefresh?.(v.memberId, v.operationKey, PROMOTION_TTL_SECONDS).catch((err: unknown) => deps.logger.warn({ err, memberHash }, 'could not mark the refresh interactive'));
        try {
          // The wait ends at API_REFRESH_WAIT_MS or when the caller goes away; the refresh itself goes on.
          const stopWaiting = new AbortController();
          const refresh = deps.refresher.refresh({ ...v.refreshInput, requester: { kind: 'interactive' }, source: 'realtime', satisfiedByFetchAfter: started }, stopWaiting.signal);
          try {
            await withDeadline(refresh, deps.refreshWaitMs, ctx.signal);
          } finally {
            stopWaiting.abort();
            refresh.catch(() => undefined); // already judged above (or abandoned): its abort is not an error
          }
        } catch (err) {
          // A live check still running after the wait (Stedi slow to fail: 5xx retried with backoff) or failed: a
          // cached answer is served as STALE (stale-if-error); the check goes on in the background either way.
          if (decision.staleFallbackAvailable && entry) {
            deps.logger.warn({ err: err instanceof DeadlineError ? 'still running after API_REFRESH_WAIT_MS' : err, memberHash }, 'live check failed or too slow; serving stale cached answer');
            result = 'stale';
            read = { result: 'STALE', entry };
            return respond(ctx, v.memberId, entry, 'STALE', true, now());
          }
          // Temporal (or Redis/PostgreSQL) unreachable is the platform's outage, not the payer's: the interceptor
          // answers it `unavailable` with retry-after (issue 12).
          if (err instanceof DeadlineError) {
            // True whatever the check ends with: a payer answer (coverage or a payer error) is cached when it arrives;
            // an HTTP 5xx or network failure after its retries is not (nothing is cached then).
            throw new ConnectError(
              'the live check is still running in the background; a payer answer fills the cache when it arrives - retry shortly (CACHE_ONLY answers from the cache only)',
              Code.DeadlineExceeded,
            );
          }
          if (isTemporalUnavailable(err) || isInfrastructureError(err)) throw err;
          throw refreshFailureToConnectError(err);
        }
        const fresh = await deps.cache.get(v.memberId, v.operationKey);
        if (!fresh) throw new ConnectError('eligibility result was not stored; retry', Code.Unavailable);
        // The live check met a payer outage ("retry later"), kept beside the expired answer it did not replace: the
        // expired answer as STALE (with the payer error in `errors`), or for BYPASS_CACHE the payer error itself.
        const keptError = fresh.outcome === 'success' && fresh.expiresAt <= now() ? payerErrorEntry(fresh) : undefined;
        if (keptError) {
          if (decision.staleFallbackAvailable) {
            result = 'stale';
            read = { result: 'STALE', entry: fresh };
            return respond(ctx, v.memberId, fresh, 'STALE', true, now());
          }
          result = 'error';
          return respond(ctx, v.memberId, keptError, 'ERROR', false, now());
        }
        const status = fresh.outcome === 'error' ? 'ERROR' : 'MISS';
        result = status.toLowerCase();
        return respond(ctx, v.memberId, fresh, status, false, now());
      } finally {
        if (deps.warmUsage && read && interactive && v.mode !== 'BYPASS_CACHE') {
          const e = read.entry;
          deps.warmUsage.record({ memberHash, operation: v.operationKey, at: started, result: read.result, entry: e ? { source: e.source, fetchedAt: e.fetchedAt } : null });
        }
        deps.metrics.cacheControlRequests.inc({ mode: modeLabel, result });
        deps.metrics.cacheControlDuration.observe({ mode: modeLabel }, (now() - started) / 1000);
      }
    },
  };
}

class DeadlineError extends Error {}

/** The "retry later" payer error kept beside a success, as the error entry it was (activities/cache payerErrorEntry). */
function payerErrorEntry(entry: EligibilityCacheEntry): EligibilityCacheEntry | undefined {
  const e = entry.lastPayerError;
  if (entry.outcome !== 'success' || !e) return undefined;
  return { summary: e.summary, fetchedAt: e.fetchedAt, expiresAt: e.expiresAt, source: e.source, ...(e.stediCheckId !== undefined ? { stediCheckId: e.stediCheckId } : {}), outcome: 'error' };
}

async function withDeadline<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError()), ms);
        onAbort = () => reject(new DeadlineError());
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
