import { randomUUID } from 'node:crypto';
import { answerEligibility, connectivityAnswer, isConnectivityCode, type AnswerContext } from './answers';

/**
 * Stedi's batch eligibility pipeline, simulated. Items of a batch are spread evenly over `durationMs` after
 * submission and evaluated lazily whenever the batch store is read (poll, get batch, items, stats), so no timers
 * run and a stopped simulator leaves nothing behind. Completion times are the items' due times, which keeps every
 * account's result log append-only and ordered - the polling page tokens are offsets into that log, so paging
 * through returns each completed item exactly once.
 *
 * Retries (Stedi retries payer connectivity failures for `maxRetryHours`): an item whose payer is in an injected
 * outage, or whose deterministic verdict is AAA 42/79/80, is RETRYING and tried again a quarter duration later.
 * Verdict-based failures succeed on the retry; outage failures keep retrying until the outage ends or the retry
 * window (maxRetryHours x time scale) runs out, then complete with AAA 42 (COMPLETED_WITH_ERRORS).
 */

type Json = Record<string, unknown>;
export type BatchItemState = 'PENDING' | 'VALIDATED' | 'VALIDATION_FAILED' | 'STARTED' | 'RETRYING' | 'COMPLETED' | 'COMPLETED_WITH_ERRORS';
export type EligibilityCheckResult = 'ACTIVE' | 'INACTIVE' | 'INVESTIGATE' | 'FAILED';

interface ItemRecord {
  index: number;
  request: Json;
  submitterTransactionIdentifier: string;
  state: BatchItemState;
  dueAtMs: number;
  attempts: number;
  firstAttemptAtMs?: number;
  updatedAtMs: number;
  result?: EligibilityCheckResult;
  aaaCodes?: string[];
}

interface BatchRecord {
  seq: number;
  id: string;
  name: string;
  account: string;
  createdAtMs: number;
  updatedAtMs: number;
  maxRetryHours: number;
  items: ItemRecord[];
  pending: Set<number>;
  done: number;
  errors: number;
}

interface CompletedResult {
  completedAtMs: number;
  batchId: string;
  body: Json;
}

export interface BatchStoreOptions {
  /** Processing window of one batch, already multiplied by the time scale. */
  durationMs: number;
  timeScale: number;
  nowMs: () => number;
  answerContext: () => AnswerContext;
  isPayerDown: (payerId: string) => boolean;
}

export type SubmitResult = { ok: true; batchId: string; submittedAt: string } | { ok: false; status: 409; body: Json };

export interface PollQuery {
  batchId?: string;
  pageSize: number;
  pageToken?: string;
  startDateTime?: string;
}

export class PageTokenError extends Error {}

interface PollToken {
  k: 'poll';
  b: string | null;
  s: number | null;
  o: number;
}
interface ItemsToken {
  k: 'items';
  b: string;
  st: string[] | null;
  o: number;
}

function encodeToken(t: PollToken | ItemsToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}
function decodeToken<T extends PollToken | ItemsToken>(raw: string, kind: T['k']): T {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
    if (t.k !== kind || typeof t.o !== 'number' || t.o < 0) throw new Error('kind');
    return t;
  } catch {
    throw new PageTokenError('Invalid pageToken');
  }
}

export class BatchStore {
  private readonly batches = new Map<string, BatchRecord>();
  private readonly namesByAccount = new Map<string, Set<string>>();
  private readonly resultsByAccount = new Map<string, CompletedResult[]>();
  private readonly resultsByBatch = new Map<string, CompletedResult[]>();
  private seq = 0;
  private logFloorMs = 0;
  totalItems = 0;
  completedItems = 0;

  constructor(private readonly opts: BatchStoreOptions) {}

  get totalBatches(): number {
    return this.batches.size;
  }

  submit(account: string, body: { items: Json[]; name?: string; maxRetryHours?: number }): SubmitResult {
    const id = randomUUID();
    const name = body.name ?? id;
    const names = this.namesByAccount.get(account) ?? new Set<string>();
    if (names.has(name)) {
      return { ok: false, status: 409, body: { code: 'RESOURCE_CONFLICT', message: `A batch named '${name}' already exists for this account` } };
    }
    names.add(name);
    this.namesByAccount.set(account, names);
    const now = this.opts.nowMs();
    const n = body.items.length;
    const items: ItemRecord[] = body.items.map((request, index) => ({
      index,
      request,
      submitterTransactionIdentifier: String(request['submitterTransactionIdentifier']),
      state: 'STARTED',
      // Evenly spread over the window; at least 1 ms after submission so a poll in the same tick sees nothing.
      dueAtMs: now + Math.max(1, Math.round(((index + 1) / n) * this.opts.durationMs)),
      attempts: 0,
      updatedAtMs: now,
    }));
    this.batches.set(id, {
      seq: this.seq++,
      id,
      name,
      account,
      createdAtMs: now,
      updatedAtMs: now,
      maxRetryHours: body.maxRetryHours ?? 8,
      items,
      pending: new Set(items.map((i) => i.index)),
      done: 0,
      errors: 0,
    });
    this.resultsByBatch.set(id, []);
    this.totalItems += n;
    return { ok: true, batchId: id, submittedAt: new Date(now).toISOString() };
  }

  /** Processes every item due by now, in due order, across all batches. */
  advance(): void {
    const now = this.opts.nowMs();
    const due: Array<{ batch: BatchRecord; item: ItemRecord }> = [];
    for (const batch of this.batches.values()) {
      for (const idx of batch.pending) {
        const item = batch.items[idx]!;
        if (item.dueAtMs <= now) due.push({ batch, item });
      }
    }
    if (due.length === 0) return;
    const order = (a: { batch: BatchRecord; item: ItemRecord }, b: { batch: BatchRecord; item: ItemRecord }) =>
      a.item.dueAtMs - b.item.dueAtMs || a.batch.seq - b.batch.seq || a.item.index - b.item.index;
    due.sort(order);
    // Strict due order, retries included (a retry still due by now is inserted at its place), so completion times
    // in the result logs never go backwards.
    for (let i = 0; i < due.length; i++) {
      const d = due[i]!;
      const retryable = this.attempt(d.batch, d.item, now);
      if (retryable && d.batch.pending.has(d.item.index) && d.item.dueAtMs <= now) {
        let lo = i + 1;
        let hi = due.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (order(due[mid]!, d) <= 0) lo = mid + 1;
          else hi = mid;
        }
        due.splice(lo, 0, d);
      }
    }
  }

  /**
   * One processing attempt of an item at its due time. Returns whether a scheduled retry may run within this same
   * advance: not during an injected outage, which is evaluated at the current time - those items wait for the next
   * read of the store, and their completion is stamped no earlier than the newest logged result.
   */
  private attempt(batch: BatchRecord, item: ItemRecord, nowMs: number): boolean {
    const payerId = String(item.request['tradingPartnerServiceId'] ?? '');
    const outage = this.opts.isPayerDown(payerId);
    // An outage is observed now, so an outage attempt happens now (the retry window runs on real time).
    const at = outage ? Math.max(item.dueAtMs, nowMs) : item.dueAtMs;
    item.attempts += 1;
    item.firstAttemptAtMs ??= at;
    const retryEvery = Math.max(1, Math.round(this.opts.durationMs / 4));
    const windowMs = batch.maxRetryHours * 3_600_000 * this.opts.timeScale;
    const ctx = this.opts.answerContext();
    let answer = outage ? connectivityAnswer(item.request, '42', ctx) : answerEligibility(item.request, ctx, item.attempts);
    const connectivity = answer.kind === 'aaa' && answer.httpStatus === 200 && isConnectivityCode(answer.aaaCode);
    if (connectivity) {
      if (at + retryEvery - item.firstAttemptAtMs <= windowMs) {
        item.state = 'RETRYING';
        item.dueAtMs = at + retryEvery;
        item.updatedAtMs = at;
        return !outage;
      }
      answer = connectivityAnswer(item.request, '42', ctx);
    }
    const payerResponded = !connectivity && !(answer.httpStatus === 400 && answer.aaaCode === '79');
    item.state = payerResponded ? 'COMPLETED' : 'COMPLETED_WITH_ERRORS';
    item.result = answer.kind === 'active' ? 'ACTIVE' : answer.kind === 'inactive' ? 'INACTIVE' : 'FAILED';
    if (answer.aaaCode) item.aaaCodes = [answer.aaaCode];
    const completedAt = Math.max(at, this.logFloorMs);
    this.logFloorMs = completedAt;
    item.updatedAtMs = completedAt;
    batch.pending.delete(item.index);
    batch.done += 1;
    if (!payerResponded) batch.errors += 1;
    batch.updatedAtMs = Math.max(batch.updatedAtMs, completedAt);
    const result: CompletedResult = {
      completedAtMs: completedAt,
      batchId: batch.id,
      body: { ...answer.body, batchId: batch.id, batchName: batch.name, submitterTransactionIdentifier: item.submitterTransactionIdentifier },
    };
    const log = this.resultsByAccount.get(batch.account) ?? [];
    log.push(result);
    this.resultsByAccount.set(batch.account, log);
    this.resultsByBatch.get(batch.id)!.push(result);
    this.completedItems += 1;
    return false;
  }

  getBatch(account: string, batchId: string): Json | undefined {
    this.advance();
    const b = this.batches.get(batchId);
    if (!b || b.account !== account) return undefined;
    const total = b.items.length;
    const status = b.done === total ? (b.errors > 0 ? 'COMPLETED_WITH_ERRORS' : 'COMPLETED') : 'IN_PROGRESS';
    return {
      id: b.id,
      name: b.name,
      batchType: 'ELIGIBILITY',
      source: 'API',
      status,
      createdAt: new Date(b.createdAtMs).toISOString(),
      updatedAt: new Date(b.updatedAtMs).toISOString(),
      totalCount: total,
      successCount: b.done - b.errors,
      errorCount: b.errors,
      inProgressCount: total - b.done,
      validatedCount: total,
      validationFailedCount: 0,
      maxRetryHours: b.maxRetryHours,
    };
  }

  /** Completed checks of the account (optionally one batch, optionally after a time), paged by offset tokens. */
  poll(account: string, q: PollQuery): { items: Json[]; nextPageToken?: string } {
    this.advance();
    let batchId = q.batchId ?? null;
    let since = q.startDateTime ? Date.parse(q.startDateTime) : null;
    let offset = 0;
    if (q.pageToken) {
      const t = decodeToken<PollToken>(q.pageToken, 'poll');
      batchId = t.b;
      since = t.s;
      offset = t.o;
    }
    let log: CompletedResult[];
    if (batchId !== null) {
      const b = this.batches.get(batchId);
      log = b && b.account === account ? (this.resultsByBatch.get(batchId) ?? []) : [];
    } else {
      log = this.resultsByAccount.get(account) ?? [];
    }
    // The log is ordered by completion time, so "completed after `since`" is a suffix: find where it starts.
    let start = 0;
    if (since !== null) while (start < log.length && log[start]!.completedAtMs <= since) start++;
    const from = start + offset;
    const page = log.slice(from, from + q.pageSize);
    const out: { items: Json[]; nextPageToken?: string } = { items: page.map((r) => r.body) };
    if (from + page.length < log.length) out.nextPageToken = encodeToken({ k: 'poll', b: batchId, s: since, o: offset + page.length });
    return out;
  }

  /** GetBatchItems: every item in any state. */
  items(account: string, batchId: string, q: { pageSize: number; pageToken?: string; states?: string[] }): { items: Json[]; nextPageToken?: string } | undefined {
    this.advance();
    const b = this.batches.get(batchId);
    if (!b || b.account !== account) return undefined;
    let states = q.states && q.states.length > 0 ? q.states : null;
    let offset = 0;
    if (q.pageToken) {
      const t = decodeToken<ItemsToken>(q.pageToken, 'items');
      if (t.b !== batchId) throw new PageTokenError('Invalid pageToken');
      states = t.st;
      offset = t.o;
    }
    const filtered = states ? b.items.filter((i) => states.includes(i.state)) : b.items;
    const page = filtered.slice(offset, offset + q.pageSize);
    const out: { items: Json[]; nextPageToken?: string } = {
      items: page.map((i) => {
        const eligibility: Json = {
          submitterTransactionIdentifier: i.submitterTransactionIdentifier,
          payerId: i.request['tradingPartnerServiceId'],
        };
        if (i.result) eligibility['eligibilityCheckResult'] = i.result;
        if (i.aaaCodes) eligibility['aaaErrors'] = i.aaaCodes.map((code) => ({ code }));
        return {
          batchId: b.id,
          createdAt: new Date(b.createdAtMs).toISOString(),
          updatedAt: new Date(i.updatedAtMs).toISOString(),
          state: i.state,
          index: i.index,
          additionalInfo: { eligibility },
        };
      }),
    };
    if (offset + page.length < filtered.length) out.nextPageToken = encodeToken({ k: 'items', b: batchId, st: states, o: offset + page.length });
    return out;
  }
}
