import { createHash, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { createLogger, type Logger } from '../lib/logger';
import { answerEligibility, connectivityAnswer, findMock, memberKey, type AnswerContext, type SimAnswer } from './answers';
import { BatchStore, PageTokenError } from './batches';
import { createRng, DEFAULT_LATENCY, sampleLatencyMs, type LatencyModel } from './rng';
import { loadSpecValidators, validateWith } from './validation';

/** Stedi's paths (healthcare and manager hosts share one simulator). */
export const SIM_PATHS = {
  eligibilityV3: '/2024-04-01/change/medicalnetwork/eligibility/v3',
  batchEligibility: '/2024-04-01/eligibility-manager/batch-eligibility',
  polling: '/2024-04-01/eligibility-manager/polling/batch-eligibility',
  batch: '/2024-04-01/eligibility-manager/batch/:batchId',
  batchItems: '/2024-04-01/eligibility-manager/batch/:batchId/items',
} as const;

export interface StediSimOptions {
  /** Concurrent real-time checks per account (API key) before HTTP 429. Default 15. */
  concurrency?: number;
  /** Real-time latency model (before time scaling). Default mean 13.5 s, lognormal sigma 0.5, 0.3-120 s. */
  latency?: Partial<LatencyModel>;
  /** Multiplies every simulated duration (latency, batch processing, retry windows). Default 1. */
  timeScale?: number;
  /** Processing window of one batch, before time scaling. Default 120 s. */
  batchDurationMs?: number;
  /** Payers stop answering after this (before time scaling); longer draws become AAA 80. Default 60 s. */
  payerTimeoutMs?: number;
  /** Accepted API keys; empty or absent accepts any non-empty key. Keys starting `test_` are test-mode keys. */
  apiKeys?: readonly string[];
  /** Payer ids Stedi does not know (HTTP 400 + AAA 79). Default TEST, BADPAYER. */
  unknownPayerIds?: readonly string[];
  /** Seed of the latency / fault RNG. Answers per member are seed-independent. Default 1. */
  seed?: number;
  logger?: Logger;
  /** Injected clock (batch processing, plan years). */
  now?: () => number;
  /** Injected wait (tests hold requests in flight with it). Must reject when `signal` aborts. */
  delay?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Directory holding healthcare.json and manager.json (default: stedi-sim/openapi). */
  specDir?: string;
  /**
   * Told of every check that reached Stedi, per member (`memberKey`: `<payer id>|<subscriber member id>`): a
   * real-time call once it holds a slot (before its latency), each item of an accepted batch at submission. Tests
   * count calls per member and path with it.
   */
  onCheck?: (check: SimCheck) => void;
}

export interface SimCheck {
  path: 'realtime' | 'batch';
  memberKey: string;
  atMs: number;
}

/** Run-time faults (POST /__sim/faults). */
export interface SimFaultUpdate {
  /** Fraction 0..1 of real-time calls answered with HTTP 500/503 straight away. */
  errorRate?: number;
  /** The next `count` real-time calls answer `status` (default 500). */
  burst5xx?: { count: number; status?: number };
  /** All checks for this payer (real-time and batch) get AAA 42 until cleared (`payerId: null` clears all). */
  payerOutage?: { payerId: string | null; down?: boolean };
  /** Added to every real-time latency (time-scaled like the latency). */
  extraLatencyMs?: number;
  /**
   * A 429 storm: the next `count` real-time calls, or every call for `forMs` (real ms, not time-scaled), answer
   * HTTP 429 with `Retry-After: retryAfterSeconds` (default 1) before taking a slot. `{ count: 0 }` ends it.
   */
  throttle429?: { count?: number; forMs?: number; retryAfterSeconds?: number };
  /** Other users of the same Stedi account hold `slots` of every account's concurrency (0 frees them). */
  otherTenants?: { slots: number };
  /**
   * A slow or hanging payer: its real-time checks take `extraLatencyMs` more (time-scaled), or with `hang: true`
   * never answer until the fault is cleared (`hang: false` or `payerId: null`). Hung checks hold their slot.
   * With `slowFirst: n` only each member's first n calls (counted as they start) are slow: a straggler whose repeat
   * answers normally (the hedging tests, issue 14).
   */
  slowPayer?: { payerId: string | null; extraLatencyMs?: number; hang?: boolean; slowFirst?: number };
  /**
   * A failing payer: its real-time checks answer HTTP `status` (500/502/503/504, default 503) after their full
   * latency (the slot is held: Stedi waited for the payer). With `failFirst: n` only each member's first n calls
   * fail and later ones answer normally (a payer that recovers on a retry); without it every call fails.
   * `down: false` clears one payer, `payerId: null` clears all (and forgets the per-member attempt counts).
   */
  failingPayer?: { payerId: string | null; status?: number; failFirst?: number; down?: boolean };
  /**
   * The next `count` real-time calls have their connection reset: at once (no slot taken), or with
   * `afterLatency: true` after the full latency (Stedi held a slot and did the work; the client gets no answer).
   */
  connectionReset?: { count: number; afterLatency?: boolean };
  /** Clears every fault before applying the rest of the update. */
  reset?: boolean;
}

export interface SimFaultsView {
  errorRate: number;
  burst5xx: { remaining: number; status: number };
  payerOutages: string[];
  extraLatencyMs: number;
  throttle429: { remaining: number; untilMs: number | null; retryAfterSeconds: number };
  otherTenantSlots: number;
  slowPayers: Record<string, { extraLatencyMs: number; hang: boolean; slowFirst: number | null }>;
  connectionReset: { remaining: number; afterLatency: boolean };
  failingPayers: Record<string, { status: number; failFirst: number | null }>;
}

/**
 * One real-time call as Stedi served it (GET /__sim/calls): recorded when its answer leaves, for calls that took a
 * slot (not 429s or immediate resets). Benches replay the recorded latencies offline (bench/batch-tail.ts).
 */
export interface SimCallRecord {
  /** Order in which calls took their slot (0-based since the last stats reset). */
  seq: number;
  /** sha256 of `<payer id>|<subscriber member id>`, 16 hex chars: the same member on every call, never the id. */
  member: string;
  payerId: string;
  /** Wall time the call took its slot and answered (ms since epoch, the simulator's clock). */
  startedAtMs: number;
  endedAtMs: number;
  /** The latency the simulator applied (after time scaling, extra latencies included), ms. */
  latencyMs: number;
  /** HTTP status answered (0: connection reset after the latency). */
  status: number;
  /** Answer kind, as counted in stats.answers. */
  answer: string;
}

export interface SimStats {
  startedAt: string;
  /** Responses by route and HTTP status, e.g. calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3']['429']. */
  calls: Record<string, Record<string, number>>;
  /** Real-time verdicts: active, inactive, aaa-42, ..., fault-5xx. */
  answers: Record<string, number>;
  /**
   * Our checks in flight. `peakWithOtherTenants` (and per account `peakTotal`) also count the slots injected
   * other tenants hold: what Stedi's limit applies to.
   */
  inFlight: {
    current: number;
    peak: number;
    peakWithOtherTenants: number;
    byAccount: Record<string, { current: number; peak: number; peakTotal: number }>;
  };
  /** HTTP 429s answered because the account's concurrency (ours + other tenants) was full. */
  throttled: number;
  /** HTTP 429s answered by an injected storm (`throttle429`); not counted in `throttled`. */
  throttledInjected: number;
  /** Connections reset by the `connectionReset` fault. */
  connectionResets: number;
  batches: { submitted: number; items: number; completedItems: number };
  faults: SimFaultsView;
  config: { concurrency: number; latencyMeanMs: number; latencySigma: number; timeScale: number; batchDurationMs: number };
}

export interface StediSim {
  app: Express;
  /** The listening server once started. */
  readonly server: Server | undefined;
  start(port?: number, host?: string): Promise<{ port: number; url: string }>;
  stop(): Promise<void>;
  stats(): SimStats;
  resetStats(): void;
  setFaults(update: SimFaultUpdate): SimFaultsView;
  /** Real-time calls served since the last stats reset (the last 100,000 to 110,000), in slot order. */
  calls(): SimCallRecord[];
}

/** Calls kept in the call log (the oldest are dropped beyond it). */
const CALL_LOG_LIMIT = 100_000;

const ERROR_BODIES: Record<number, { code: string; message: string }> = {
  500: { code: 'INTERNAL_FAILURE', message: 'Internal failure' },
  502: { code: 'BAD_GATEWAY', message: 'Bad gateway' },
  503: { code: 'SERVICE_UNAVAILABLE', message: 'Service unavailable' },
  504: { code: 'GATEWAY_TIMEOUT', message: 'Gateway timeout' },
};

interface Account {
  id: string;
  test: boolean;
}

/** The simulator's own wait (no `delay` option): `ms`, or rejected as soon as `signal` aborts. */
export function defaultDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('stopped'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('stopped'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createStediSim(options: StediSimOptions = {}): StediSim {
  const concurrency = options.concurrency ?? 15;
  const latency: LatencyModel = { ...DEFAULT_LATENCY, ...options.latency };
  const timeScale = options.timeScale ?? 1;
  const batchDurationMs = options.batchDurationMs ?? 120_000;
  const payerTimeoutMs = options.payerTimeoutMs ?? 60_000;
  const apiKeys = new Set((options.apiKeys ?? []).filter((k) => k.length > 0));
  const unknownPayerIds = new Set(options.unknownPayerIds ?? ['TEST', 'BADPAYER']);
  const log = options.logger ?? createLogger('stedi-sim');
  const now = options.now ?? Date.now;
  const delay = options.delay ?? defaultDelay;
  const rng = createRng(options.seed ?? 1);
  const validators = loadSpecValidators(options.specDir);
  const lifetime = new AbortController();
  // Every in-flight check listens on it (one per slot, many accounts): not a leak.
  setMaxListeners(0, lifetime.signal);

  const faults = {
    errorRate: 0,
    burst: { remaining: 0, status: 500 },
    outages: new Set<string>(),
    extraLatencyMs: 0,
    throttle: { remaining: 0, untilMs: 0, retryAfterSeconds: 1 },
    otherTenantSlots: 0,
    slowPayers: new Map<string, { extraLatencyMs: number; hang: boolean; slowFirst: number | null }>(),
    reset: { remaining: 0, afterLatency: false },
    failingPayers: new Map<string, { status: number; failFirst: number | null }>(),
  };
  /** Calls per member on a failing payer with `failFirst` (member hash -> calls seen). */
  const failingAttempts = new Map<string, number>();
  /** Calls started per member on a slow payer with `slowFirst` (member hash -> calls seen). */
  const slowAttempts = new Map<string, number>();
  let callLog: SimCallRecord[] = [];
  let callSeq = 0;
  const memberDigest = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);
  /** Hung checks wait on this; clearing a hang aborts it (and a fresh one is made for later hangs). */
  let hangRelease = new AbortController();
  setMaxListeners(0, hangRelease.signal);
  const gates = new Map<string, { current: number; peak: number; peakTotal: number }>();
  let stats = freshCounters();
  function freshCounters() {
    return {
      startedAt: new Date(now()).toISOString(),
      calls: {} as Record<string, Record<string, number>>,
      answers: {} as Record<string, number>,
      peak: 0,
      peakWithOthers: 0,
      throttled: 0,
      throttledInjected: 0,
      connectionResets: 0,
      batchesSubmitted: 0,
      itemsSubmitted: 0,
    };
  }
  const bump = (m: Record<string, number>, k: string) => {
    m[k] = (m[k] ?? 0) + 1;
  };
  const currentInFlight = () => [...gates.values()].reduce((s, g) => s + g.current, 0);

  const answerContext = (test: boolean): AnswerContext => ({
    now: new Date(now()),
    applicationMode: test ? 'test' : 'production',
    newCheckId: () => `ec_${randomUUID()}`,
    unknownPayerIds,
  });
  const batches = new BatchStore({
    durationMs: batchDurationMs * timeScale,
    timeScale,
    nowMs: now,
    answerContext: () => answerContext(false),
    isPayerDown: (payerId) => faults.outages.has(payerId),
  });

  const app = express();
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.setHeader('stedi-request-id', randomUUID());
    res.on('finish', () => {
      const route = (res.locals['route'] as string | undefined) ?? 'unmatched';
      // Control and health routes are not Stedi traffic: keep them out of the call counts.
      if (!route.includes('/__sim') && !route.endsWith('/healthz')) bump((stats.calls[route] ??= {}), String(res.statusCode));
      log.debug({ route, status: res.statusCode, method: req.method }, 'request');
    });
    next();
  });
  app.use(express.text({ type: () => true, limit: '64mb' }));

  function send(res: Response, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    res.status(status).json(body);
  }

  function route(res: Response, name: string): void {
    res.locals['route'] = name;
  }

  /** Stedi accepts `Key <key>` (SDK) and a bare key (docs); the simulator also takes `Bearer <token>`. */
  function authenticate(req: Request, res: Response, productionOnly: boolean): Account | undefined {
    const header = req.header('authorization')?.trim() ?? '';
    const key = header.replace(/^(Key|Bearer)\s+/i, '').trim();
    if (!key) {
      send(res, 401, { code: 'UNAUTHORIZED', message: 'Unauthorized' });
      return undefined;
    }
    if (apiKeys.size > 0 && !apiKeys.has(key)) {
      send(res, 403, { code: 'ACCESS_DENIED', message: 'Access denied' });
      return undefined;
    }
    const test = key.startsWith('test_');
    if (test && productionOnly) {
      send(res, 403, { code: 'ACCESS_DENIED', message: 'This operation requires a production API key' });
      return undefined;
    }
    return { id: `acct_${createHash('sha256').update(key).digest('hex').slice(0, 12)}`, test };
  }

  function parseJson(req: Request, res: Response): unknown {
    const raw = typeof req.body === 'string' ? req.body : '';
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      send(res, 400, { message: 'Request body is not valid JSON', fieldList: [] });
      return undefined;
    }
  }

  // --- real-time eligibility -------------------------------------------------------------------------------
  app.post(SIM_PATHS.eligibilityV3, async (req: Request, res: Response) => {
    route(res, `POST ${SIM_PATHS.eligibilityV3}`);
    const account = authenticate(req, res, false);
    if (!account) return;
    const body = parseJson(req, res);
    if (body === undefined) return;
    const invalid = validateWith(validators.eligibilityRequest, body);
    if (invalid) return send(res, 400, invalid);
    const request = body as Record<string, unknown>;
    if (account.test && !findMock(request)) {
      return send(res, 400, { message: 'Test API keys can only send the documented mock eligibility requests', fieldList: [] });
    }

    if (faults.throttle.remaining > 0 || now() < faults.throttle.untilMs) {
      if (faults.throttle.remaining > 0) faults.throttle.remaining -= 1;
      stats.throttledInjected += 1;
      res.setHeader('retry-after', String(faults.throttle.retryAfterSeconds));
      return send(res, 429, { code: 'TOO_MANY_REQUESTS', message: 'Too many concurrent requests: throttled: CUSTOMER_LIMIT' });
    }
    if (faults.reset.remaining > 0 && !faults.reset.afterLatency) {
      faults.reset.remaining -= 1;
      stats.connectionResets += 1;
      req.socket.destroy();
      return;
    }
    const gate = gates.get(account.id) ?? { current: 0, peak: 0, peakTotal: 0 };
    gates.set(account.id, gate);
    if (gate.current + faults.otherTenantSlots >= concurrency) {
      stats.throttled += 1;
      return send(res, 429, { code: 'TOO_MANY_REQUESTS', message: 'Too many concurrent requests: throttled: CUSTOMER_LIMIT' });
    }
    gate.current += 1;
    gate.peak = Math.max(gate.peak, gate.current);
    gate.peakTotal = Math.max(gate.peakTotal, gate.current + faults.otherTenantSlots);
    stats.peak = Math.max(stats.peak, currentInFlight());
    stats.peakWithOthers = Math.max(stats.peakWithOthers, gate.current + faults.otherTenantSlots);
    options.onCheck?.({ path: 'realtime', memberKey: memberKey(request), atMs: Date.now() });
    const record: SimCallRecord = {
      seq: callSeq++,
      member: memberDigest(memberKey(request)),
      payerId: String(request['tradingPartnerServiceId']),
      startedAtMs: now(),
      endedAtMs: 0,
      latencyMs: 0,
      status: 0,
      answer: '',
    };
    const logCall = (status: number, answer: string) => {
      record.endedAtMs = now();
      record.status = status;
      record.answer = answer;
      callLog.push(record);
      // Trimmed in steps of a tenth, so a long-running simulator does not copy the log on every call.
      if (callLog.length > CALL_LOG_LIMIT * 1.1) callLog = callLog.slice(-CALL_LOG_LIMIT);
    };
    try {
      if (faults.burst.remaining > 0) {
        faults.burst.remaining -= 1;
        bump(stats.answers, 'fault-5xx');
        const status = faults.burst.status;
        logCall(status, 'fault-5xx');
        return send(res, status, ERROR_BODIES[status] ?? { message: `HTTP ${status}` });
      }
      if (faults.errorRate > 0 && rng() < faults.errorRate) {
        bump(stats.answers, 'fault-5xx');
        const status = rng() < 0.5 ? 500 : 503;
        logCall(status, 'fault-5xx');
        return send(res, status, ERROR_BODIES[status]);
      }
      const sampled = sampleLatencyMs(rng, latency);
      // Stedi keeps the slot until the payer answers, even if the client gave up (stedi-api.md §1.8): no abort on
      // client disconnect, only on simulator shutdown.
      const payerId = String(request['tradingPartnerServiceId']);
      let slow = faults.slowPayers.get(payerId);
      if (slow && slow.slowFirst !== null) {
        const seen = slowAttempts.get(record.member) ?? 0;
        slowAttempts.set(record.member, seen + 1);
        if (seen >= slow.slowFirst) slow = undefined;
      }
      if (slow?.hang) {
        // Holds the slot until the hang is cleared (or the simulator stops), then answers normally.
        await new Promise<void>((resolve, reject) => {
          const release = hangRelease.signal;
          if (lifetime.signal.aborted) return reject(new Error('stopped'));
          const done = () => resolve();
          release.addEventListener('abort', done, { once: true });
          lifetime.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
        });
      }
      record.latencyMs = (Math.min(sampled, payerTimeoutMs) + faults.extraLatencyMs + (slow?.extraLatencyMs ?? 0)) * timeScale;
      await delay(record.latencyMs, lifetime.signal);
      if (faults.reset.remaining > 0 && faults.reset.afterLatency) {
        faults.reset.remaining -= 1;
        stats.connectionResets += 1;
        bump(stats.answers, 'connection-reset');
        logCall(0, 'connection-reset');
        req.socket.destroy();
        return;
      }
      const failing = faults.failingPayers.get(payerId);
      if (failing) {
        const seen = failingAttempts.get(record.member) ?? 0;
        failingAttempts.set(record.member, seen + 1);
        if (failing.failFirst === null || seen < failing.failFirst) {
          bump(stats.answers, 'payer-5xx');
          logCall(failing.status, 'payer-5xx');
          return send(res, failing.status, ERROR_BODIES[failing.status]);
        }
      }
      const ctx = answerContext(account.test);
      let answer: SimAnswer;
      if (faults.outages.has(payerId)) answer = connectivityAnswer(request, '42', ctx);
      else if (sampled > payerTimeoutMs) answer = connectivityAnswer(request, '80', ctx);
      else answer = answerEligibility(request, ctx);
      const kind = answer.kind === 'aaa' ? `aaa-${answer.aaaCode ?? '?'}` : answer.kind;
      bump(stats.answers, kind);
      logCall(answer.httpStatus, kind);
      send(res, answer.httpStatus, answer.body);
    } catch (err) {
      if (lifetime.signal.aborted) {
        logCall(503, 'stopped');
        send(res, 503, ERROR_BODIES[503]);
        return;
      }
      throw err;
    } finally {
      gate.current -= 1;
    }
  });

  // --- batch (manager) ------------------------------------------------------------------------------------
  app.post(SIM_PATHS.batchEligibility, (req: Request, res: Response) => {
    route(res, `POST ${SIM_PATHS.batchEligibility}`);
    const account = authenticate(req, res, true);
    if (!account) return;
    const body = parseJson(req, res);
    if (body === undefined) return;
    const invalid = validateWith(validators.batchRequest, body);
    if (invalid) return send(res, 400, invalid);
    const b = body as { items: Record<string, unknown>[]; name?: string; maxRetryHours?: number };
    const result = batches.submit(account.id, b);
    if (!result.ok) return send(res, result.status, result.body);
    stats.batchesSubmitted += 1;
    stats.itemsSubmitted += b.items.length;
    if (options.onCheck) for (const item of b.items) options.onCheck({ path: 'batch', memberKey: memberKey(item), atMs: Date.now() });
    log.info({ batchId: result.batchId, items: b.items.length }, 'batch submitted');
    send(res, 200, { batchId: result.batchId, submittedAt: result.submittedAt });
  });

  function intParam(req: Request, res: Response, name: string, min: number, max: number, dflt: number): number | undefined {
    const raw = req.query[name];
    if (raw === undefined) return dflt;
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      send(res, 400, {
        message: `1 validation error detected: Value at '/${name}' failed to satisfy constraint: Member must be between ${min} and ${max}`,
        fieldList: [{ path: `/${name}`, message: `Value at '/${name}' failed to satisfy constraint: Member must be between ${min} and ${max}` }],
      });
      return undefined;
    }
    return n;
  }

  function stringParam(req: Request, name: string): string | undefined {
    const raw = req.query[name];
    return typeof raw === 'string' && raw.length > 0 ? raw : undefined;
  }

  function sendMaybeGzip(req: Request, res: Response, body: unknown, gzip: boolean): void {
    if (gzip && /\bgzip\b/.test(req.header('accept-encoding') ?? '')) {
      res.status(200).setHeader('content-type', 'application/json; charset=utf-8').setHeader('content-encoding', 'gzip');
      res.end(gzipSync(Buffer.from(JSON.stringify(body))));
      return;
    }
    send(res, 200, body);
  }

  app.get(SIM_PATHS.polling, (req: Request, res: Response) => {
    route(res, `GET ${SIM_PATHS.polling}`);
    const account = authenticate(req, res, true);
    if (!account) return;
    const pageSize = intParam(req, res, 'pageSize', 1, 200, 10);
    if (pageSize === undefined) return;
    const startDateTime = stringParam(req, 'startDateTime');
    if (startDateTime !== undefined && Number.isNaN(Date.parse(startDateTime))) {
      return send(res, 400, { message: "1 validation error detected: Value at '/startDateTime' failed to satisfy constraint: Member must be an ISO-8601 date-time", fieldList: [{ path: '/startDateTime', message: 'Member must be an ISO-8601 date-time' }] });
    }
    const pageToken = stringParam(req, 'pageToken');
    const batchId = stringParam(req, 'batchId');
    try {
      const page = batches.poll(account.id, {
        pageSize,
        ...(pageToken ? { pageToken } : {}),
        ...(batchId ? { batchId } : {}),
        ...(startDateTime ? { startDateTime } : {}),
      });
      // Stedi gzips pages larger than 20 items.
      sendMaybeGzip(req, res, page, pageSize > 20);
    } catch (err) {
      if (err instanceof PageTokenError) return send(res, 400, { message: err.message, fieldList: [{ path: '/pageToken', message: err.message }] });
      throw err;
    }
  });

  app.get(SIM_PATHS.batchItems, (req: Request, res: Response) => {
    route(res, `GET ${SIM_PATHS.batchItems}`);
    const account = authenticate(req, res, true);
    if (!account) return;
    const pageSize = intParam(req, res, 'pageSize', 1, 1000, 100);
    if (pageSize === undefined) return;
    const rawStates = req.query['state'];
    const states = (Array.isArray(rawStates) ? rawStates : rawStates !== undefined ? [rawStates] : []).flatMap((s) => String(s).split(','));
    const pageToken = stringParam(req, 'pageToken');
    try {
      const page = batches.items(account.id, String(req.params['batchId']), { pageSize, states, ...(pageToken ? { pageToken } : {}) });
      if (!page) return send(res, 404, { code: 'RESOURCE_NOT_FOUND', message: 'Batch not found' });
      send(res, 200, page);
    } catch (err) {
      if (err instanceof PageTokenError) return send(res, 400, { message: err.message, fieldList: [{ path: '/pageToken', message: err.message }] });
      throw err;
    }
  });

  app.get(SIM_PATHS.batch, (req: Request, res: Response) => {
    route(res, `GET ${SIM_PATHS.batch}`);
    const account = authenticate(req, res, true);
    if (!account) return;
    const batch = batches.getBatch(account.id, String(req.params['batchId']));
    if (!batch) return send(res, 404, { code: 'RESOURCE_NOT_FOUND', message: 'Batch not found' });
    send(res, 200, batch);
  });

  // --- simulator control ----------------------------------------------------------------------------------
  app.get('/healthz', (_req: Request, res: Response) => {
    route(res, 'GET /healthz');
    send(res, 200, { status: 'ok' });
  });

  function faultsView(): SimFaultsView {
    return {
      errorRate: faults.errorRate,
      burst5xx: { ...faults.burst },
      payerOutages: [...faults.outages].sort(),
      extraLatencyMs: faults.extraLatencyMs,
      throttle429: {
        remaining: faults.throttle.remaining,
        untilMs: faults.throttle.untilMs > now() ? faults.throttle.untilMs : null,
        retryAfterSeconds: faults.throttle.retryAfterSeconds,
      },
      otherTenantSlots: faults.otherTenantSlots,
      slowPayers: Object.fromEntries([...faults.slowPayers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }])),
      connectionReset: { ...faults.reset },
      failingPayers: Object.fromEntries([...faults.failingPayers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }])),
    };
  }

  function releaseHung(): void {
    hangRelease.abort();
    hangRelease = new AbortController();
    setMaxListeners(0, hangRelease.signal);
  }

  function setFaults(update: SimFaultUpdate): SimFaultsView {
    if (update.reset) {
      faults.errorRate = 0;
      faults.burst = { remaining: 0, status: 500 };
      faults.outages.clear();
      faults.extraLatencyMs = 0;
      faults.throttle = { remaining: 0, untilMs: 0, retryAfterSeconds: 1 };
      faults.otherTenantSlots = 0;
      if ([...faults.slowPayers.values()].some((p) => p.hang)) releaseHung();
      faults.slowPayers.clear();
      slowAttempts.clear();
      faults.reset = { remaining: 0, afterLatency: false };
      faults.failingPayers.clear();
      failingAttempts.clear();
    }
    if (update.errorRate !== undefined) {
      if (!(update.errorRate >= 0 && update.errorRate <= 1)) throw new RangeError('errorRate must be within 0..1');
      faults.errorRate = update.errorRate;
    }
    if (update.burst5xx !== undefined) {
      const status = update.burst5xx.status ?? 500;
      if (!(Number.isInteger(update.burst5xx.count) && update.burst5xx.count >= 0)) throw new RangeError('burst5xx.count must be a non-negative integer');
      if (!(status >= 500 && status <= 599)) throw new RangeError('burst5xx.status must be 5xx');
      faults.burst = { remaining: update.burst5xx.count, status };
    }
    if (update.payerOutage !== undefined) {
      const { payerId, down } = update.payerOutage;
      if (payerId === null) faults.outages.clear();
      else if (down === false) faults.outages.delete(payerId);
      else faults.outages.add(payerId);
    }
    if (update.extraLatencyMs !== undefined) {
      if (!(update.extraLatencyMs >= 0)) throw new RangeError('extraLatencyMs must be >= 0');
      faults.extraLatencyMs = update.extraLatencyMs;
    }
    if (update.throttle429 !== undefined) {
      const { count, forMs, retryAfterSeconds } = update.throttle429;
      if (count !== undefined && !(Number.isInteger(count) && count >= 0)) throw new RangeError('throttle429.count must be a non-negative integer');
      if (forMs !== undefined && !(Number.isFinite(forMs) && forMs >= 0)) throw new RangeError('throttle429.forMs must be >= 0');
      if (retryAfterSeconds !== undefined && !(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 0 && retryAfterSeconds <= 3600)) {
        throw new RangeError('throttle429.retryAfterSeconds must be an integer within 0..3600');
      }
      if (count === undefined && forMs === undefined) throw new RangeError('throttle429 needs count or forMs');
      faults.throttle = { remaining: count ?? 0, untilMs: forMs !== undefined ? now() + forMs : 0, retryAfterSeconds: retryAfterSeconds ?? 1 };
    }
    if (update.otherTenants !== undefined) {
      const { slots } = update.otherTenants;
      if (!(Number.isInteger(slots) && slots >= 0 && slots <= concurrency)) throw new RangeError(`otherTenants.slots must be an integer within 0..${concurrency}`);
      faults.otherTenantSlots = slots;
      for (const g of gates.values()) g.peakTotal = Math.max(g.peakTotal, g.current + slots);
    }
    if (update.slowPayer !== undefined) {
      const { payerId, extraLatencyMs = 0, hang = false, slowFirst } = update.slowPayer;
      if (!(Number.isFinite(extraLatencyMs) && extraLatencyMs >= 0)) throw new RangeError('slowPayer.extraLatencyMs must be >= 0');
      if (slowFirst !== undefined && !(Number.isInteger(slowFirst) && slowFirst >= 1)) throw new RangeError('slowPayer.slowFirst must be a positive integer');
      const wasHanging = payerId === null ? [...faults.slowPayers.values()].some((p) => p.hang) : faults.slowPayers.get(payerId)?.hang === true;
      if (payerId === null) faults.slowPayers.clear();
      else if (extraLatencyMs === 0 && !hang) faults.slowPayers.delete(payerId);
      else faults.slowPayers.set(payerId, { extraLatencyMs, hang, slowFirst: slowFirst ?? null });
      if (wasHanging && !(payerId !== null && hang)) releaseHung();
    }
    if (update.connectionReset !== undefined) {
      const { count, afterLatency = false } = update.connectionReset;
      if (!(Number.isInteger(count) && count >= 0)) throw new RangeError('connectionReset.count must be a non-negative integer');
      faults.reset = { remaining: count, afterLatency };
    }
    if (update.failingPayer !== undefined) {
      const { payerId, status = 503, failFirst, down } = update.failingPayer;
      if (![500, 502, 503, 504].includes(status)) throw new RangeError('failingPayer.status must be 500, 502, 503 or 504');
      if (failFirst !== undefined && !(Number.isInteger(failFirst) && failFirst >= 1)) throw new RangeError('failingPayer.failFirst must be an integer >= 1');
      if (payerId === null) {
        faults.failingPayers.clear();
        failingAttempts.clear();
      } else if (typeof payerId !== 'string' || payerId === '') throw new RangeError('failingPayer.payerId must be a payer id or null');
      else if (down === false) faults.failingPayers.delete(payerId);
      else faults.failingPayers.set(payerId, { status, failFirst: failFirst ?? null });
    }
    const view = faultsView();
    log.info({ faults: view }, 'faults updated');
    return view;
  }

  app.get('/__sim/faults', (_req: Request, res: Response) => {
    route(res, 'GET /__sim/faults');
    send(res, 200, faultsView());
  });
  app.post('/__sim/faults', (req: Request, res: Response) => {
    route(res, 'POST /__sim/faults');
    const body = parseJson(req, res);
    if (body === undefined) return;
    if (!isRecord(body)) return send(res, 400, { message: 'expected a JSON object' });
    try {
      send(res, 200, setFaults(body as SimFaultUpdate));
    } catch (err) {
      send(res, 400, { message: err instanceof Error ? err.message : String(err) });
    }
  });

  function snapshot(): SimStats {
    batches.advance();
    const byAccount: SimStats['inFlight']['byAccount'] = {};
    for (const [id, g] of gates) byAccount[id] = { current: g.current, peak: g.peak, peakTotal: g.peakTotal };
    return {
      startedAt: stats.startedAt,
      calls: JSON.parse(JSON.stringify(stats.calls)) as SimStats['calls'],
      answers: { ...stats.answers },
      inFlight: { current: currentInFlight(), peak: stats.peak, peakWithOtherTenants: stats.peakWithOthers, byAccount },
      throttled: stats.throttled,
      throttledInjected: stats.throttledInjected,
      connectionResets: stats.connectionResets,
      batches: { submitted: stats.batchesSubmitted, items: stats.itemsSubmitted, completedItems: batches.completedItems },
      faults: faultsView(),
      config: { concurrency, latencyMeanMs: latency.meanMs, latencySigma: latency.sigma, timeScale, batchDurationMs },
    };
  }

  function resetStats(): void {
    stats = freshCounters();
    callLog = [];
    callSeq = 0;
    stats.peak = currentInFlight();
    for (const g of gates.values()) {
      g.peak = g.current;
      g.peakTotal = g.current + faults.otherTenantSlots;
      stats.peakWithOthers = Math.max(stats.peakWithOthers, g.peakTotal);
    }
  }

  app.get('/__sim/stats', (_req: Request, res: Response) => {
    route(res, 'GET /__sim/stats');
    send(res, 200, snapshot());
  });
  app.get('/__sim/calls', (_req: Request, res: Response) => {
    route(res, 'GET /__sim/calls');
    send(res, 200, { calls: callLog });
  });
  app.post('/__sim/stats/reset', (_req: Request, res: Response) => {
    route(res, 'POST /__sim/stats/reset');
    resetStats();
    send(res, 200, { ok: true });
  });

  app.use((_req: Request, res: Response) => {
    send(res, 404, { code: 'RESOURCE_NOT_FOUND', message: 'Not Found' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = isRecord(err) && typeof err['status'] === 'number' ? err['status'] : 500;
    if (status === 413) return send(res, 413, { code: 'CONTENT_TOO_LARGE', message: 'Request body too large' });
    log.error({ err }, 'unhandled simulator error');
    send(res, 500, ERROR_BODIES[500]);
  });

  let server: Server | undefined;

  return {
    app,
    get server() {
      return server;
    },
    start(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const s = createServer(app);
        s.keepAliveTimeout = 65_000;
        s.requestTimeout = 0;
        s.once('error', reject);
        s.listen(port, host, () => {
          server = s;
          const p = (s.address() as AddressInfo).port;
          const url = `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
          log.info({ port: p, concurrency, timeScale, latencyMeanMs: latency.meanMs }, 'stedi-sim listening');
          resolve({ port: p, url });
        });
      });
    },
    stop() {
      lifetime.abort();
      const s = server;
      server = undefined;
      if (!s) return Promise.resolve();
      return new Promise<void>((resolve) => {
        s.close(() => resolve());
        // In-flight checks were just answered 503; drop idle keep-alive sockets so close() completes.
        setImmediate(() => s.closeAllConnections());
      });
    },
    stats: snapshot,
    resetStats,
    setFaults,
    calls: () => callLog.map((c) => ({ ...c })),
  };
}
