import { classifyStediOutcome, collectAaaErrors, parseRetryAfterMs, type StediClassification } from './classify';
import { createNodeHttpTransport, fetchTransport, type HttpAnswer } from './http-transport';
import type {
  EligibilityCheckRequest,
  EligibilityCheckResponse,
  PollBatchResultsParams,
  PollBatchResultsResponse,
  StediBatch,
  SubmitBatchRequest,
  SubmitBatchResponse,
} from './types';

/** API version prefix carried by every path (both Stedi hosts). */
export const STEDI_API_VERSION = '2024-04-01';
export const STEDI_PATHS = {
  eligibilityV3: `/${STEDI_API_VERSION}/change/medicalnetwork/eligibility/v3`,
  batchEligibility: `/${STEDI_API_VERSION}/eligibility-manager/batch-eligibility`,
  pollBatchEligibility: `/${STEDI_API_VERSION}/eligibility-manager/polling/batch-eligibility`,
  batch: (batchId: string) => `/${STEDI_API_VERSION}/eligibility-manager/batch/${encodeURIComponent(batchId)}`,
} as const;

/** Stedi's eligibility API gives up at ~90 s; waiting longer only holds a slot. */
export const DEFAULT_STEDI_TIMEOUT_MS = 90_000;

export interface StediCallOptions {
  /** Cancels the call (e.g. the activity's cancellation signal). */
  signal?: AbortSignal;
}

/**
 * A real-time check that reached a payer verdict: HTTP 200, or HTTP 400 carrying payer AAA errors (Stedi returns
 * payer rejections both ways). `classification.kind` is 'ok', 'do-not-resubmit' (a definitive answer worth caching
 * with the error TTL) or 'payer-unavailable' (AAA 42/79/80: retry - see `toApplicationFailure`).
 */
export interface EligibilityCheckOutcome {
  httpStatus: number;
  response: EligibilityCheckResponse;
  classification: StediClassification;
  /** Stedi's request id header, for support tickets. */
  requestId?: string;
}

/** The Stedi port. Activities depend on this interface only; tests use fakes or the simulator. */
export interface StediGateway {
  /** Real-time v3 check. Throws `StediRequestError` for anything that is not a payer verdict. */
  checkEligibility(request: EligibilityCheckRequest, options?: StediCallOptions): Promise<EligibilityCheckOutcome>;
  /** Submits up to 10,000 checks as one batch (`name` unique per account). Throws `StediRequestError`. */
  submitBatch(request: SubmitBatchRequest, options?: StediCallOptions): Promise<SubmitBatchResponse>;
  /** One page of completed batch checks. Pass `nextPageToken` back as `pageToken` until it is absent. */
  pollBatchResults(params: PollBatchResultsParams, options?: StediCallOptions): Promise<PollBatchResultsResponse>;
  /** Batch status and counts. */
  getBatch(batchId: string, options?: StediCallOptions): Promise<StediBatch>;
}

/** A failed Stedi call, already classified (use `toApplicationFailure(err.classification, err)` in activities). */
export class StediRequestError extends Error {
  constructor(
    readonly operation: string,
    readonly classification: StediClassification,
    readonly httpStatus?: number,
    /** Stedi's error body (never contains our request). */
    readonly body?: unknown,
    readonly requestId?: string,
  ) {
    super(`${operation}: ${classification.message}`);
    this.name = 'StediRequestError';
  }
}

export interface HttpStediGatewayOptions {
  /** Scheme + host of the healthcare API (real-time), e.g. the simulator's `http://127.0.0.1:8090`. */
  baseUrl: string;
  /** Scheme + host of the manager API (batch); defaults to `baseUrl` (the simulator serves both). */
  managerBaseUrl?: string;
  apiKey: string;
  /** Per call; default 90 s. */
  timeoutMs?: number;
  /**
   * Injected for tests: the gateway then calls through this fetch. Without it, calls go through `node:http(s)` on
   * a keep-alive agent (http-transport.ts says why not the global fetch).
   */
  fetch?: typeof fetch;
  /** Sockets per Stedi host without `fetch`: the slot limit plus headroom (default 32). */
  maxSockets?: number;
  /** Extra trusted CA certificates (PEM) for https without `fetch`. */
  ca?: string;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || (err.name === 'AbortError' && /timeout/i.test(err.message)));
}

/** The HTTP adapter of `StediGateway` (over `node:http(s)`, or the injected fetch). */
export function createHttpStediGateway(options: HttpStediGatewayOptions): StediGateway {
  const healthcareBase = trimSlash(options.baseUrl);
  const managerBase = trimSlash(options.managerBaseUrl ?? options.baseUrl);
  const timeoutMs = options.timeoutMs ?? DEFAULT_STEDI_TIMEOUT_MS;
  if (!options.apiKey) throw new Error('Stedi API key is required');
  const transport = options.fetch ? fetchTransport(options.fetch) : createNodeHttpTransport({ maxSockets: options.maxSockets ?? 32, ...(options.ca ? { ca: options.ca } : {}) });
  const authorization = `Key ${options.apiKey}`;

  interface RawResponse {
    status: number;
    body: unknown;
    requestId?: string;
    retryAfterMs?: number;
  }

  async function call(operation: string, url: string, init: { method: 'GET' | 'POST'; body?: unknown }, callOpts?: StediCallOptions): Promise<RawResponse> {
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'Accept-Encoding': 'gzip',
    };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: HttpAnswer;
    try {
      res = await transport({
        method: init.method,
        url,
        headers,
        timeoutMs,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        ...(callOpts?.signal ? { signal: callOpts.signal } : {}),
      });
    } catch (err) {
      // The caller's own cancellation propagates untouched (Temporal activity cancellation).
      if (callOpts?.signal?.aborted) throw err;
      const c = classifyStediOutcome({ kind: 'network', timedOut: isTimeout(err), message: err instanceof Error ? err.message : String(err) });
      throw new StediRequestError(operation, c, undefined, undefined, undefined);
    }
    const text = res.text;
    let body: unknown = text;
    if (text.length > 0) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    const requestId = res.header('stedi-request-id') ?? res.header('x-amzn-requestid') ?? undefined;
    const retryAfterMs = parseRetryAfterMs(res.header('retry-after'));
    return { status: res.status, body, ...(requestId ? { requestId } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  function fail(operation: string, raw: RawResponse): never {
    const c = classifyStediOutcome({ kind: 'http', status: raw.status, body: raw.body, ...(raw.retryAfterMs !== undefined ? { retryAfterMs: raw.retryAfterMs } : {}) });
    throw new StediRequestError(operation, c, raw.status, raw.body, raw.requestId);
  }

  function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  }

  return {
    async checkEligibility(request, callOpts) {
      const op = 'checkEligibility';
      const raw = await call(op, healthcareBase + STEDI_PATHS.eligibilityV3, { method: 'POST', body: request }, callOpts);
      const isVerdict = (raw.status === 200 && isObject(raw.body)) || (raw.status === 400 && collectAaaErrors(raw.body).length > 0);
      if (!isVerdict) fail(op, raw);
      const classification = classifyStediOutcome({ kind: 'http', status: raw.status, body: raw.body });
      if (classification.kind === 'server') fail(op, raw);
      return {
        httpStatus: raw.status,
        response: raw.body as EligibilityCheckResponse,
        classification,
        ...(raw.requestId ? { requestId: raw.requestId } : {}),
      };
    },

    async submitBatch(request, callOpts) {
      const op = 'submitBatch';
      const raw = await call(op, managerBase + STEDI_PATHS.batchEligibility, { method: 'POST', body: request }, callOpts);
      if (raw.status !== 200 || !isObject(raw.body) || typeof raw.body['batchId'] !== 'string') fail(op, raw);
      return raw.body as unknown as SubmitBatchResponse;
    },

    async pollBatchResults(params, callOpts) {
      const op = 'pollBatchResults';
      const qs = new URLSearchParams();
      if (params.batchId) qs.set('batchId', params.batchId);
      if (params.pageSize !== undefined) qs.set('pageSize', String(params.pageSize));
      if (params.pageToken) qs.set('pageToken', params.pageToken);
      if (params.startDateTime) qs.set('startDateTime', params.startDateTime);
      const q = qs.toString();
      const raw = await call(op, managerBase + STEDI_PATHS.pollBatchEligibility + (q ? `?${q}` : ''), { method: 'GET' }, callOpts);
      if (raw.status !== 200 || !isObject(raw.body) || !Array.isArray(raw.body['items'])) fail(op, raw);
      return raw.body as unknown as PollBatchResultsResponse;
    },

    async getBatch(batchId, callOpts) {
      const op = 'getBatch';
      const raw = await call(op, managerBase + STEDI_PATHS.batch(batchId), { method: 'GET' }, callOpts);
      if (raw.status !== 200 || !isObject(raw.body)) fail(op, raw);
      return raw.body as unknown as StediBatch;
    },
  };
}
