import { classifyStediOutcome } from '../activities/stedi/classify';
import { normalizeEligibilityResponse } from '../lib/coverage-summary';
import { answerEligibility, MOCK_MEMBERS, verdictFor, type AnswerContext } from './answers';
import { BatchStore } from './batches';
import { loadSpecValidators } from './validation';

let n = 0;
const ctx: AnswerContext = {
  now: new Date('2026-03-15T12:00:00Z'),
  applicationMode: 'production',
  newCheckId: () => `ec_00000000-0000-4000-8000-${(n++).toString().padStart(12, '0')}`,
  unknownPayerIds: new Set(['TEST']),
};

const req = (memberId: string, payer = '87726') => ({
  tradingPartnerServiceId: payer,
  provider: { organizationName: 'Included Health', npi: '1999999984' },
  subscriber: { memberId, firstName: 'Pat', lastName: 'Lee', dateOfBirth: '19800101' },
  encounter: { serviceTypeCodes: ['30'] },
});

describe('deterministic answers', () => {
  it('follows the documented mix: ~80 % active, ~12 % inactive, ~8 % AAA', () => {
    const counts: Record<string, number> = {};
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      const v = verdictFor(`87726|M${i}`);
      const k = v.kind === 'aaa' ? `aaa-${v.aaaCode}` : v.kind;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    const share = (k: string) => (counts[k] ?? 0) / total;
    expect(share('active')).toBeGreaterThan(0.78);
    expect(share('active')).toBeLessThan(0.82);
    expect(share('inactive')).toBeGreaterThan(0.105);
    expect(share('inactive')).toBeLessThan(0.135);
    for (const code of ['42', '79', '80', '72', '73', '75']) expect(share(`aaa-${code}`)).toBeGreaterThan(0.004);
    const aaa = Object.entries(counts).filter(([k]) => k.startsWith('aaa-')).reduce((s, [, c]) => s + c, 0) / total;
    expect(aaa).toBeGreaterThan(0.07);
    expect(aaa).toBeLessThan(0.09);
  });

  it('answers the same member identically, except for the per-check id', () => {
    for (const id of ['A1', 'B22', 'C333', 'D4444']) {
      const a = answerEligibility(req(id), ctx);
      const b = answerEligibility(req(id), ctx);
      expect({ ...b.body, id: 'x', meta: null }).toEqual({ ...a.body, id: 'x', meta: null });
      expect(b.body['id']).not.toBe(a.body['id']);
    }
  });

  it('generates bodies that conform to Stedi\'s response schema and normalize consistently with the verdict', () => {
    const { eligibilityResponse } = loadSpecValidators();
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const a = answerEligibility(req(`S${i}`, i % 2 ? '87726' : 'ZZPAYER'), ctx);
      const ok = eligibilityResponse(a.body);
      if (!ok) throw new Error(JSON.stringify(eligibilityResponse.errors?.slice(0, 3)));
      const status = normalizeEligibilityResponse(a.body).status;
      expect(status).toBe(a.kind === 'aaa' ? 'error' : a.kind);
      const c = classifyStediOutcome({ kind: 'http', status: a.httpStatus, body: a.body });
      expect(c.kind).toBe(a.kind === 'aaa' ? (['42', '79', '80'].includes(a.aaaCode!) ? 'payer-unavailable' : 'do-not-resubmit') : 'ok');
      seen.add(a.kind);
    }
    expect(seen).toEqual(new Set(['active', 'inactive', 'aaa']));
  });

  it('answers every documented mock member with its documented outcome', () => {
    for (const [key, mock] of Object.entries(MOCK_MEMBERS)) {
      const [payer, id] = key.split('|') as [string, string];
      const body = id.startsWith('~')
        ? { tradingPartnerServiceId: payer, provider: { organizationName: 'SIMPSON', npi: '1447848577' }, subscriber: { firstName: 'Abe', lastName: id.slice(1), dateOfBirth: '20240606' } }
        : req(id, payer);
      const a = answerEligibility(body, ctx);
      expect({ key, kind: a.kind, aaa: a.aaaCode, mock: a.mock }).toEqual({ key, kind: mock.kind, aaa: mock.aaaCode, mock: true });
    }
  });
});

describe('batch store', () => {
  it('retries connectivity verdicts and completes every item once, in completion order', () => {
    let now = 1_000_000;
    const store = new BatchStore({ durationMs: 100, timeScale: 1, nowMs: () => now, answerContext: () => ctx, isPayerDown: () => false });
    // Members whose real-time verdict is a connectivity error get through on Stedi's batch retry.
    const flaky = Array.from({ length: 5000 }, (_, i) => `F${i}`).filter((id) => ['42', '79', '80'].includes(verdictFor(`87726|${id}`).aaaCode ?? '')).slice(0, 3);
    const items = [...flaky, 'OK1', 'OK2'].map((id, i) => ({ ...req(id), submitterTransactionIdentifier: `t${i}` }));
    const sub = store.submit('acct', { items, name: 'b1' });
    if (!sub.ok) throw new Error('submit failed');
    expect(store.poll('acct', { pageSize: 10 }).items).toHaveLength(0);
    // Items are due at +20, +40, ... +100; a connectivity failure is retried a quarter duration (25) later.
    now += 60;
    expect(store.getBatch('acct', sub.batchId)).toMatchObject({ status: 'IN_PROGRESS', successCount: 1, inProgressCount: 4 });
    now += 100;
    expect(store.getBatch('acct', sub.batchId)).toMatchObject({ status: 'COMPLETED', successCount: 5, errorCount: 0 });
    const page = store.poll('acct', { pageSize: 10, batchId: sub.batchId });
    expect(page.items.map((r) => r['submitterTransactionIdentifier'])).toEqual(['t0', 't1', 't3', 't2', 't4']);
    expect(page.items.every((r) => normalizeEligibilityResponse(r).status !== 'error')).toBe(true);
    expect(store.items('acct', sub.batchId, { pageSize: 10, states: ['COMPLETED'] })!.items).toHaveLength(5);
    // Another account cannot see the batch.
    expect(store.getBatch('other', sub.batchId)).toBeUndefined();
  });

  it('gives up on a payer outage after the retry window with AAA 42 (COMPLETED_WITH_ERRORS)', () => {
    let now = 0;
    const store = new BatchStore({ durationMs: 10, timeScale: 0.0001, nowMs: () => now, answerContext: () => ctx, isPayerDown: (p) => p === '87726' });
    const sub = store.submit('acct', { items: [{ ...req('X1'), submitterTransactionIdentifier: 't0' }], maxRetryHours: 8 });
    if (!sub.ok) throw new Error('submit failed');
    now = 20;
    expect(store.getBatch('acct', sub.batchId)).toMatchObject({ status: 'IN_PROGRESS', inProgressCount: 1 });
    now = 8 * 3_600_000 * 0.0001 + 100; // past the scaled 8 h window
    store.advance();
    now += 10;
    expect(store.getBatch('acct', sub.batchId)).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', errorCount: 1 });
    const [result] = store.poll('acct', { pageSize: 10 }).items;
    expect(normalizeEligibilityResponse(result).errors.map((e) => e.code)).toEqual(['42']);
  });
});
