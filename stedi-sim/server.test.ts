import type { StediRequestError } from '../activities/stedi/gateway';
import { createHttpStediGateway, type StediGateway } from '../activities/stedi/gateway';
import type { BatchEligibilityItem, EligibilityCheckRequest } from '../activities/stedi/types';
import { ErrorType } from '../lib/errors';
import { normalizeEligibilityResponse } from '../lib/coverage-summary';
import { silentLogger } from '../lib/logger';
import { verdictFor } from './answers';
import { createStediSim, type StediSim, type StediSimOptions } from './server';
import { failureOf } from '../activities/stedi/test-support';

const provider = { organizationName: 'Included Health', npi: '1999999984' };

function request(memberId: string, payer = '60054', extra: Partial<EligibilityCheckRequest> = {}): EligibilityCheckRequest {
  return {
    tradingPartnerServiceId: payer,
    provider,
    subscriber: { memberId, firstName: 'Jane', lastName: 'Doe', dateOfBirth: '19800101' },
    encounter: { serviceTypeCodes: ['30'] },
    ...extra,
  };
}

/** A synthetic member id whose deterministic verdict is `kind` (searching the same hash the simulator uses). */
function memberWith(kind: 'active' | 'inactive', payer = '60054', skip = 0): string {
  let found = 0;
  for (let i = 0; i < 10_000; i++) {
    const id = `SIM${i.toString().padStart(6, '0')}`;
    if (verdictFor(`${payer}|${id}`).kind === kind && found++ === skip) return id;
  }
  throw new Error('no member found');
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`condition never met: ${what}`);
}

interface Running {
  sim: StediSim;
  url: string;
  gateway: (apiKey?: string) => StediGateway;
}

const running: StediSim[] = [];
async function startSim(opts: StediSimOptions = {}): Promise<Running> {
  const sim = createStediSim({ timeScale: 0, logger: silentLogger(), ...opts });
  running.push(sim);
  const { url } = await sim.start(0);
  return { sim, url, gateway: (apiKey = 'sim-key') => createHttpStediGateway({ baseUrl: url, apiKey, timeoutMs: 10_000 }) };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

describe('stedi-sim real-time eligibility, through the real gateway', () => {
  it('answers a valid request with coverage that normalizes to active', async () => {
    const { gateway } = await startSim();
    const out = await gateway().checkEligibility(request(memberWith('active')));
    expect(out.httpStatus).toBe(200);
    expect(out.classification.kind).toBe('ok');
    expect(out.response.id).toMatch(/^ec_[0-9a-f-]{36}$/);
    expect(out.response.meta?.applicationMode).toBe('production');
    const summary = normalizeEligibilityResponse(out.response);
    expect(summary.status).toBe('active');
    expect(summary.payer.id).toBe('60054');
    expect(summary.coverage.start).toMatch(/^\d{4}-01-01$/);
    expect(summary.benefits.map((b) => b.code)).toEqual(expect.arrayContaining(['1', 'C', 'G', 'A', 'B']));
  });

  it('rejects a body that violates the OpenAPI schema with Stedi\'s 400 ValidationException', async () => {
    const { gateway } = await startSim();
    const bad = { ...request('AB'), provider: { organizationName: 'X', npi: '123' }, dependents: [] } as unknown as EligibilityCheckRequest;
    delete (bad as Record<string, unknown>)['tradingPartnerServiceId'];
    const err = await failureOf(gateway().checkEligibility(bad));
    expect(err.httpStatus).toBe(400);
    expect(err.classification).toMatchObject({ kind: 'validation', retryable: false, errorType: ErrorType.StediValidation });
    const body = err.body as { message: string; fieldList: Array<{ path: string; message: string }> };
    expect(body.message).toMatch(/^3 validation errors detected/);
    expect(body.fieldList.map((f) => f.path).sort()).toEqual(['/dependents', '/provider/npi', '/tradingPartnerServiceId']);
  });

  it('rejects requests without an API key (401) and unknown keys when keys are configured (403)', async () => {
    const { url, gateway } = await startSim({ apiKeys: ['good-key'] });
    const res = await fetch(`${url}/2024-04-01/change/medicalnetwork/eligibility/v3`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    const err = await failureOf(gateway('wrong-key').checkEligibility(request('AB1')));
    expect(err.classification).toMatchObject({ kind: 'auth', retryable: false });
    await expect(gateway('good-key').checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ httpStatus: 200 });
  });

  it('lets 15 checks run concurrently per account and answers the 16th with 429', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { sim, gateway } = await startSim({ concurrency: 15, delay: () => held });
    const gw = gateway();
    const calls = Array.from({ length: 16 }, (_, i) => gw.checkEligibility(request(`CONC${i}`)).then(
      (ok) => ({ ok: true as const, status: ok.httpStatus }),
      (err: unknown) => ({ ok: false as const, err }),
    ));
    await until(() => sim.stats().throttled === 1 && sim.stats().inFlight.current === 15, '15 in flight + 1 throttled');
    // A different account has its own 15 slots.
    const other = gateway('other-key').checkEligibility(request('OTHER1'));
    await until(() => sim.stats().inFlight.current === 16, 'other account admitted');
    release();
    const results = await Promise.all(calls);
    await other;
    const throttled = results.filter((r) => !r.ok);
    expect(throttled).toHaveLength(1);
    const err = (throttled[0] as { err: unknown }).err as StediRequestError;
    expect(err.classification).toMatchObject({ kind: 'throttled', retryable: true, errorType: ErrorType.StediThrottled });
    expect((err.body as { code: string }).code).toBe('TOO_MANY_REQUESTS');
    const stats = sim.stats();
    expect(Object.values(stats.inFlight.byAccount).map((a) => a.peak).sort((a, b) => a - b)).toEqual([1, 15]);
    expect(stats.inFlight.current).toBe(0);
    expect(stats.calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3']).toEqual({ '200': 16, '429': 1 });
  });

  it('gives the same member the same answer across calls and simulator instances', async () => {
    const a = await startSim();
    const b = await startSim({ seed: 99 });
    const members = ['DET0001', 'DET0002', 'DET0003', 'DET0004', 'DET0005', 'DET0006'];
    const summarize = async (gw: StediGateway, id: string) => {
      const out = await gw.checkEligibility(request(id, '87726'));
      const { stediCheckId: _id, ...rest } = normalizeEligibilityResponse(out.response);
      return { httpStatus: out.httpStatus, ...rest };
    };
    for (const id of members) {
      const first = await summarize(a.gateway(), id);
      expect(await summarize(a.gateway(), id)).toEqual(first);
      expect(await summarize(b.gateway('another-account'), id)).toEqual(first);
    }
  });

  it('answers Stedi\'s documented mock members as documented', async () => {
    const { gateway } = await startSim();
    const gw = gateway('test_mock-key');
    const uhc = await gw.checkEligibility({
      tradingPartnerServiceId: '87726',
      provider: { organizationName: 'Provider Name', npi: '1999999984' },
      subscriber: { firstName: 'John', lastName: 'Doe', memberId: 'UHC202649' },
      dependents: [{ firstName: 'Jane', lastName: 'Doe', dateOfBirth: '19521121' }],
      encounter: { serviceTypeCodes: ['30'] },
    });
    const s = normalizeEligibilityResponse(uhc.response);
    expect(s).toMatchObject({ status: 'active', payer: { id: '87726', name: 'UNITEDHEALTHCARE' }, plan: { name: 'CHOICE PLUS', groupNumber: '186084' } });
    expect(uhc.response.meta?.applicationMode).toBe('test');

    const mock = (memberId: string, firstName = 'Jane') => gw.checkEligibility({ ...request(memberId, '87726'), subscriber: { memberId, firstName, lastName: 'Doe', dateOfBirth: '19710101' } });
    expect(normalizeEligibilityResponse((await mock('UHCINACTIVE')).response).status).toBe('inactive');
    const a42 = await mock('UHCAAA42');
    expect(a42.classification).toMatchObject({ kind: 'payer-unavailable', retryable: true, aaaCodes: ['42'] });
    const a75 = await mock('UHCAAA75');
    expect(a75.classification).toMatchObject({ kind: 'do-not-resubmit', retryable: false, aaaCodes: ['75'] });
    expect(normalizeEligibilityResponse(a75.response).errors).toEqual([{ code: '75', description: 'Subscriber/Insured Not Found', followupAction: 'Please Correct and Resubmit' }]);

    // Test keys work only with the mock requests.
    const err = await failureOf(gw.checkEligibility(request('NOTAMOCK1')));
    expect(err.classification.kind).toBe('validation');
  });

  it('answers an unknown payer with HTTP 400 + AAA 79, which is not retryable', async () => {
    const { gateway } = await startSim();
    const out = await gateway().checkEligibility(request('AB12', 'BADPAYER'));
    expect(out.httpStatus).toBe(400);
    expect(out.classification).toMatchObject({ kind: 'do-not-resubmit', retryable: false, aaaCodes: ['79'] });
  });
});

describe('stedi-sim batch API, through the real gateway', () => {
  const item = (i: number, payer = '60054'): BatchEligibilityItem => ({ ...request(`BATCH${i.toString().padStart(5, '0')}`, payer), submitterTransactionIdentifier: `tx-${i}` });

  it('processes a batch asynchronously and returns every item exactly once through the polling pages', async () => {
    const { sim, gateway } = await startSim({ timeScale: 1, batchDurationMs: 40 });
    const gw = gateway();
    const items = Array.from({ length: 57 }, (_, i) => item(i));
    const { batchId, submittedAt } = await gw.submitBatch({ name: 'nightly-refresh-1', items });
    expect(Number.isNaN(Date.parse(submittedAt))).toBe(false);
    const first = await gw.getBatch(batchId);
    expect(first).toMatchObject({ id: batchId, name: 'nightly-refresh-1', batchType: 'ELIGIBILITY', totalCount: 57 });

    let status = first.status;
    for (let i = 0; i < 400 && !status.startsWith('COMPLETED'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      status = (await gw.getBatch(batchId)).status;
    }
    expect(status).toBe('COMPLETED');

    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      // pageSize > 20 makes the simulator gzip the page, as Stedi does.
      const page = await gw.pollBatchResults({ batchId, pageSize: 25, ...(pageToken ? { pageToken } : {}) });
      for (const r of page.items) {
        expect(r.batchId).toBe(batchId);
        seen.push(r.submitterTransactionIdentifier!);
      }
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(items.map((x) => x.submitterTransactionIdentifier).sort());
    expect(sim.stats().batches).toMatchObject({ submitted: 1, items: 57, completedItems: 57 });

    // Batch checks never took a real-time slot.
    expect(sim.stats().inFlight.peak).toBe(0);
  });

  it('rejects more than 10,000 items with 400 and a duplicate batch name with 409', async () => {
    const { gateway } = await startSim();
    const gw = gateway();
    const tooMany = Array.from({ length: 10_001 }, (_, i) => item(i));
    const err = await failureOf(gw.submitBatch({ name: 'too-big', items: tooMany }));
    expect(err.httpStatus).toBe(400);
    expect(err.classification.kind).toBe('validation');
    expect((err.body as { fieldList: Array<{ path: string }> }).fieldList.map((f) => f.path)).toEqual(['/items']);

    await gw.submitBatch({ name: 'once', items: [item(1)] });
    const dup = await failureOf(gw.submitBatch({ name: 'once', items: [item(2)] }));
    expect(dup.httpStatus).toBe(409);
    expect(dup.classification.retryable).toBe(false);
  });

  it('rejects a batch when one item is invalid and refuses test keys', async () => {
    const { gateway } = await startSim();
    const bad = { ...item(1), submitterTransactionIdentifier: undefined } as unknown as BatchEligibilityItem;
    const err = await failureOf(gateway().submitBatch({ items: [item(0), bad] }));
    expect((err.body as { fieldList: Array<{ path: string }> }).fieldList.map((f) => f.path)).toEqual(['/items/1/submitterTransactionIdentifier']);
    const auth = await failureOf(gateway('test_key').submitBatch({ items: [item(0)] }));
    expect(auth.classification.kind).toBe('auth');
  });

  it('keeps items of a payer in outage retrying until the outage ends', async () => {
    const { sim, gateway } = await startSim({ timeScale: 1, batchDurationMs: 20 });
    const gw = gateway();
    sim.setFaults({ payerOutage: { payerId: '62308' } });
    const { batchId } = await gw.submitBatch({ items: [item(1, '62308'), item(2, '60054')] });
    await until(() => sim.stats().batches.completedItems >= 1, 'healthy payer item done');
    await new Promise((r) => setTimeout(r, 60));
    expect((await gw.getBatch(batchId)).status).toBe('IN_PROGRESS');
    sim.setFaults({ payerOutage: { payerId: '62308', down: false } });
    await until(() => sim.stats().batches.completedItems === 2, 'outage item done after recovery');
    expect((await gw.getBatch(batchId)).status).toBe('COMPLETED');
  });
});

describe('stedi-sim fault injection', () => {
  it('answers AAA 42 for a payer in outage, classified retryable', async () => {
    const { url, gateway } = await startSim();
    const res = await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ payerOutage: { payerId: '87726' } }) });
    expect(await res.json()).toMatchObject({ payerOutages: ['87726'] });
    const out = await gateway().checkEligibility(request(memberWith('active', '87726'), '87726'));
    expect(out.httpStatus).toBe(200);
    expect(out.classification).toMatchObject({ kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable, aaaCodes: ['42'] });
    // Other payers are unaffected.
    await expect(gateway().checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ classification: { kind: 'ok' } });
  });

  it('fails the next N calls with a 5xx burst, classified retryable, then recovers', async () => {
    const { sim, url, gateway } = await startSim();
    await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ burst5xx: { count: 2, status: 503 } }) });
    const gw = gateway();
    const id = memberWith('active');
    for (let i = 0; i < 2; i++) {
      const err = await failureOf(gw.checkEligibility(request(id)));
      expect(err.classification).toMatchObject({ retryable: true, httpStatus: 503 });
    }
    await expect(gw.checkEligibility(request(id))).resolves.toMatchObject({ httpStatus: 200 });
    sim.setFaults({ burst5xx: { count: 1 } });
    const err = await failureOf(gw.checkEligibility(request(id)));
    expect(err.classification).toMatchObject({ kind: 'server', retryable: true, errorType: ErrorType.StediServer });
  });

  it('fails every call at errorRate 1 and nothing after reset', async () => {
    const { url, gateway } = await startSim();
    await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 1 }) });
    const gw = gateway();
    const err = await failureOf(gw.checkEligibility(request('ERR01')));
    expect([500, 503]).toContain(err.httpStatus);
    const reset = await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ reset: true }) });
    expect(await reset.json()).toEqual({
      errorRate: 0,
      burst5xx: { remaining: 0, status: 500 },
      payerOutages: [],
      extraLatencyMs: 0,
      throttle429: { remaining: 0, untilMs: null, retryAfterSeconds: 1 },
      otherTenantSlots: 0,
      slowPayers: {},
      connectionReset: { remaining: 0, afterLatency: false },
      failingPayers: {},
    });
    await expect(gw.checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ httpStatus: 200 });
    const bad = await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 2 }) });
    expect(bad.status).toBe(400);
  });

  it('reports and resets stats over HTTP', async () => {
    const { url, gateway } = await startSim();
    await gateway().checkEligibility(request(memberWith('inactive')));
    const stats = (await (await fetch(`${url}/__sim/stats`)).json()) as { answers: Record<string, number>; inFlight: { peak: number } };
    expect(stats.answers).toEqual({ inactive: 1 });
    expect(stats.inFlight.peak).toBe(1);
    await fetch(`${url}/__sim/stats/reset`, { method: 'POST' });
    const after = (await (await fetch(`${url}/__sim/stats`)).json()) as { answers: Record<string, number>; inFlight: { peak: number }; calls: Record<string, unknown> };
    expect(after.answers).toEqual({});
    expect(after.inFlight.peak).toBe(0);
    expect(Object.keys(after.calls)).toEqual([]);
  });
});

describe('stedi-sim reliability faults', () => {
  it('answers a 429 storm of N requests with Retry-After, taking no slot, then recovers', async () => {
    const { sim, url, gateway } = await startSim();
    const set = await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ throttle429: { count: 2, retryAfterSeconds: 3 } }) });
    expect(await set.json()).toMatchObject({ throttle429: { remaining: 2, retryAfterSeconds: 3 } });
    const raw = await fetch(`${url}/2024-04-01/change/medicalnetwork/eligibility/v3`, {
      method: 'POST',
      headers: { authorization: 'Key k' },
      body: JSON.stringify(request(memberWith('active'))),
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('3');
    const err = await failureOf(gateway().checkEligibility(request(memberWith('active'))));
    expect(err.classification).toMatchObject({ kind: 'throttled', retryable: true, nextRetryDelayMs: 3000 });
    await expect(gateway().checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ httpStatus: 200 });
    const stats = sim.stats();
    expect(stats.throttledInjected).toBe(2);
    expect(stats.throttled).toBe(0);
    expect(stats.inFlight.peak).toBe(1);
  });

  it('answers a 429 storm for a duration, then recovers', async () => {
    let t = 1_000_000;
    const { sim, gateway } = await startSim({ now: () => t });
    sim.setFaults({ throttle429: { forMs: 10_000 } });
    for (let i = 0; i < 3; i++) expect((await failureOf(gateway().checkEligibility(request(memberWith('active'))))).httpStatus).toBe(429);
    t += 10_001;
    await expect(gateway().checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ httpStatus: 200 });
    expect(sim.stats().throttledInjected).toBe(3);
    expect(() => sim.setFaults({ throttle429: {} })).toThrow(/count or forMs/);
  });

  it('lets other tenants occupy N slots of the account: ours get 15 - N, peaks count both', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { sim, gateway } = await startSim({ concurrency: 15, delay: () => held });
    sim.setFaults({ otherTenants: { slots: 10 } });
    const gw = gateway();
    const calls = Array.from({ length: 6 }, (_, i) => gw.checkEligibility(request(`TEN${i}`)).then(() => 'ok', () => 'throttled'));
    await until(() => sim.stats().throttled === 1 && sim.stats().inFlight.current === 5, '5 in flight + 1 throttled');
    const s = sim.stats();
    expect(s.inFlight.peak).toBe(5);
    expect(s.inFlight.peakWithOtherTenants).toBe(15);
    expect(Object.values(s.inFlight.byAccount)[0]).toMatchObject({ current: 5, peak: 5, peakTotal: 15 });
    release();
    expect((await Promise.all(calls)).filter((r) => r === 'throttled')).toHaveLength(1);
    expect(() => sim.setFaults({ otherTenants: { slots: 16 } })).toThrow(RangeError);
  });

  it('holds a hanging payer\'s checks (and their slots) until the hang is cleared; other payers answer', async () => {
    const { sim, gateway } = await startSim();
    sim.setFaults({ slowPayer: { payerId: '87726', hang: true } });
    let done = false;
    const hung = gateway().checkEligibility(request(memberWith('active', '87726'), '87726')).finally(() => (done = true));
    await until(() => sim.stats().inFlight.current === 1, 'hung check in flight');
    await expect(gateway().checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ httpStatus: 200 });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    expect(sim.stats().inFlight.current).toBe(1);
    sim.setFaults({ slowPayer: { payerId: '87726', hang: false } });
    await expect(hung).resolves.toMatchObject({ httpStatus: 200 });
    expect(sim.setFaults({ slowPayer: { payerId: '87726', extraLatencyMs: 500 } }).slowPayers).toEqual({ '87726': { extraLatencyMs: 500, hang: false, slowFirst: null } });
  });

  it("slows only each member's first n calls on a payer with slowFirst (a straggler whose repeat is normal)", async () => {
    const { sim, url, gateway } = await startSim({ timeScale: 0.01, latency: { meanMs: 1000, sigma: 0 } });
    const gw = gateway();
    const a = memberWith('active', '87726');
    sim.setFaults({ slowPayer: { payerId: '87726', extraLatencyMs: 5000, slowFirst: 1 } });
    await gw.checkEligibility(request(a, '87726'));
    await gw.checkEligibility(request(a, '87726'));
    await gw.checkEligibility(request(memberWith('active', '87726', 1), '87726'));
    expect(sim.calls().map((c) => c.latencyMs)).toEqual([60, 10, 60]);
    const res = await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ slowPayer: { payerId: '87726', extraLatencyMs: 5, slowFirst: 0 } }) });
    expect(res.status).toBe(400);
  });

  it('resets the next N connections, before or after the payer latency', async () => {
    const { sim, gateway } = await startSim();
    sim.setFaults({ connectionReset: { count: 1 } });
    const early = await failureOf(gateway().checkEligibility(request(memberWith('active'))));
    expect(early.classification).toMatchObject({ kind: 'server', retryable: true });
    sim.setFaults({ connectionReset: { count: 1, afterLatency: true } });
    const late = await failureOf(gateway().checkEligibility(request(memberWith('active'))));
    expect(late.classification).toMatchObject({ kind: 'server', retryable: true });
    await expect(gateway().checkEligibility(request(memberWith('active')))).resolves.toMatchObject({ httpStatus: 200 });
    const s = sim.stats();
    expect(s.connectionResets).toBe(2);
    expect(s.answers['connection-reset']).toBe(1);
  });
});

describe('stedi-sim failing payers and the call log (finite-batch tail bench)', () => {
  it("fails a failing payer's checks with its 5xx after the latency: every call, or each member's first n", async () => {
    const { sim, url, gateway } = await startSim({ timeScale: 0.001 });
    const gw = gateway();
    const a = memberWith('active', '87726');
    const b = memberWith('active', '87726', 1);
    const other = memberWith('active');
    sim.setFaults({ failingPayer: { payerId: '87726', failFirst: 1 } });
    const first = await failureOf(gw.checkEligibility(request(a, '87726')));
    expect(first.classification).toMatchObject({ kind: 'payer-unavailable', retryable: true, httpStatus: 503, errorType: ErrorType.StediPayerUnavailable });
    await expect(gw.checkEligibility(request(a, '87726'))).resolves.toMatchObject({ httpStatus: 200 });
    await expect(failureOf(gw.checkEligibility(request(b, '87726')))).resolves.toMatchObject({ httpStatus: 503 });
    await expect(gw.checkEligibility(request(other))).resolves.toMatchObject({ httpStatus: 200 });
    expect(sim.setFaults({ failingPayer: { payerId: '87726', status: 504 } }).failingPayers).toEqual({ '87726': { status: 504, failFirst: null } });
    for (let i = 0; i < 2; i++) await expect(failureOf(gw.checkEligibility(request(a, '87726')))).resolves.toMatchObject({ httpStatus: 504 });
    expect(sim.stats().answers['payer-5xx']).toBe(4);
    sim.setFaults({ failingPayer: { payerId: '87726', down: false } });
    await expect(gw.checkEligibility(request(a, '87726'))).resolves.toMatchObject({ httpStatus: 200 });
    for (const bad of [{ payerId: '87726', status: 429 }, { payerId: '87726', failFirst: 0 }, { payerId: '' }]) {
      const res = await fetch(`${url}/__sim/faults`, { method: 'POST', body: JSON.stringify({ failingPayer: bad }) });
      expect(res.status).toBe(400);
    }
  });

  it('records every call that took a slot with its applied latency, by member hash, until the stats reset', async () => {
    const { sim, url, gateway } = await startSim({ timeScale: 0.01, latency: { meanMs: 1000, sigma: 0 } });
    const gw = gateway();
    const a = memberWith('active');
    sim.setFaults({ failingPayer: { payerId: '60054', failFirst: 1 } });
    await failureOf(gw.checkEligibility(request(a)));
    await gw.checkEligibility(request(a));
    await gw.checkEligibility(request(memberWith('inactive', '87726'), '87726'));
    const res = await fetch(`${url}/__sim/calls`);
    const { calls } = (await res.json()) as { calls: ReturnType<StediSim['calls']> };
    expect(calls).toEqual(sim.calls());
    expect(calls.map((c) => [c.seq, c.status, c.answer, c.latencyMs])).toEqual([
      [0, 503, 'payer-5xx', 10],
      [1, 200, 'active', 10],
      [2, 200, 'inactive', 10],
    ]);
    expect(calls[0]!.member).toBe(calls[1]!.member);
    expect(calls[0]!.member).not.toBe(calls[2]!.member);
    expect(calls[0]!.member).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(calls)).not.toContain(a);
    for (const c of calls) expect(c.endedAtMs).toBeGreaterThanOrEqual(c.startedAtMs);
    sim.resetStats();
    expect(sim.calls()).toEqual([]);
  });
});

describe('stedi-sim onCheck (per-member record for tests)', () => {
  it('reports each real-time call that took a slot and each item of an accepted batch, keyed <payer>|<member id>', async () => {
    const seen: Array<{ path: string; memberKey: string }> = [];
    const { gateway } = await startSim({ onCheck: (c) => seen.push({ path: c.path, memberKey: c.memberKey }) });
    const gw = gateway();
    const id = memberWith('active');
    await gw.checkEligibility(request(id));
    await failureOf(gw.checkEligibility({ ...request(id), subscriber: undefined } as unknown as EligibilityCheckRequest));
    await gw.submitBatch({
      name: 'on-check',
      items: ['B1', 'B2'].map((m, i) => ({ ...request(m, '60054'), submitterTransactionIdentifier: `tx-${i}` })),
    });
    expect(seen).toEqual([
      { path: 'realtime', memberKey: `60054|${id}` },
      { path: 'batch', memberKey: '60054|B1' },
      { path: 'batch', memberKey: '60054|B2' },
    ]);
  });
});
