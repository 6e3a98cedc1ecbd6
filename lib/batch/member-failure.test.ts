import { webhookBody, type BatchEventPayload } from './events';
import { ALL_MEMBERS_FAILED, batchFailureOf, PAYER_ERROR, payerErrorDetail, payerErrorMessage } from './member-failure';
import { emptyCounters } from './types';

describe('a finished batch that did not complete says why (issue 10)', () => {
  test.each([
    ['FAILED', undefined, { failed: 5, cancelled: 0 }, { code: ALL_MEMBERS_FAILED, message: "no member succeeded: 5 failed; GetBatchStatus errors list each member's error" }],
    ['FAILED', undefined, { failed: 2, cancelled: 3 }, { code: ALL_MEMBERS_FAILED, message: "no member succeeded: 2 failed, 3 not processed; GetBatchStatus errors list each member's error" }],
    ['FAILED', { code: 'InvalidArgumentError', message: 'member_query: …' }, { failed: 0, cancelled: 9 }, { code: 'InvalidArgumentError', message: 'member_query: …' }],
    ['CANCELLED', { code: 'CANCELLED', message: 'by ops' }, { failed: 0, cancelled: 9 }, { code: 'CANCELLED', message: 'by ops' }],
    ['PARTIALLY_COMPLETED', undefined, { failed: 1, cancelled: 0 }, undefined],
    ['COMPLETED', undefined, { failed: 0, cancelled: 0 }, undefined],
  ] as const)('%s with failure %j and counters %j', (status, failure, counters, want) => {
    expect(batchFailureOf(status, failure, counters)).toEqual(want);
  });

  test('the webhook body of a FAILED batch whose members all failed carries data.error', () => {
    const e: BatchEventPayload = {
      eventId: 'evt_3_x',
      eventType: 'FAILED',
      occurredAtMs: Date.UTC(2026, 0, 1),
      batchId: 'batch/svc/job',
      clientService: 'svc',
      clientJobId: 'job',
      jobType: 'batch',
      status: 'FAILED',
      counters: { ...emptyCounters(3), failed: 3 },
      percentDone: 100,
      submittedAtMs: Date.UTC(2026, 0, 1),
      options: {} as BatchEventPayload['options'],
    };
    const body = JSON.parse(webhookBody(e)) as { data: { error?: { code: string } } };
    expect(body.data.error?.code).toBe(ALL_MEMBERS_FAILED);
  });

  test('the webhook body of a cancelled batch: cache_refreshed is what was refreshed, and completed + failed + cancelled + pending = total', () => {
    const e: BatchEventPayload = {
      eventId: 'evt_4_x',
      eventType: 'CANCELLED',
      occurredAtMs: Date.UTC(2026, 0, 1),
      batchId: 'batch/svc/job',
      clientService: 'svc',
      clientJobId: 'job',
      jobType: 'batch',
      status: 'CANCELLED',
      counters: { ...emptyCounters(300), completed: 19, cancelled: 281, cacheMisses: 19, cacheRefreshed: 19, stediRealtimeCalls: 19 },
      percentDone: 100,
      submittedAtMs: Date.UTC(2026, 0, 1),
      options: {} as BatchEventPayload['options'],
      failure: { code: 'CANCELLED', message: 'by ops' },
    };
    const body = JSON.parse(webhookBody(e)) as { data: { progress: Record<string, number>; result: Record<string, number> } };
    expect(body.data.result).toMatchObject({ total_members: 300, successful: 19, skipped: 281, cache_refreshed: 19, stedi_realtime_calls: 19 });
    const p = body.data.progress;
    expect(p['completed']! + p['failed']! + p['cancelled']! + p['pending']!).toBe(300);
  });
});

describe('a real-time member payer error says what the payer said', () => {
  it('names the AAA code and description; without them (older workers) the plain PAYER_ERROR message', () => {
    expect(payerErrorDetail([{ code: '72', description: 'Invalid/Missing Subscriber/Insured ID' }])).toBe('AAA 72 Invalid/Missing Subscriber/Insured ID');
    expect(payerErrorDetail([{ code: '', description: null }, { code: '42', description: null }])).toBe('AAA 42');
    expect(payerErrorDetail([])).toBeUndefined();
    expect(payerErrorMessage('AAA 72 Invalid/Missing Subscriber/Insured ID')).toBe('the payer answered with an error: AAA 72 Invalid/Missing Subscriber/Insured ID (cached for 5 minutes)');
    expect(payerErrorMessage(undefined)).toBe(PAYER_ERROR.message);
    expect(payerErrorMessage('x'.repeat(500)).length).toBeLessThan(260);
  });
});
