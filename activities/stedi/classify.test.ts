import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../../lib/errors';
import {
  classifyStediOutcome,
  collectAaaErrors,
  parseRetryAfterMs,
  INTERMEDIARY_OUTAGE_RETRY_DELAY_MS,
  THROTTLED_RETRY_DELAY_MS,
  toApplicationFailure,
  type StediOutcome,
} from './classify';

const aaa = (code: string, followupAction = 'Please Correct and Resubmit', where: 'top' | 'subscriber' | 'payer' = 'top') => {
  const err = { code, description: `AAA ${code}`, field: 'AAA', followupAction, location: 'Loop 2100C' };
  if (where === 'top') return { errors: [err] };
  return { errors: [], [where]: { aaaErrors: [err] } };
};

const activeBody = { benefitsInformation: [{ code: '1', serviceTypeCodes: ['30'] }], errors: [] };

describe('classifyStediOutcome', () => {
  const cases: Array<[string, StediOutcome, { kind: string; retryable: boolean; errorType?: string; delay?: number }]> = [
    ['200 active coverage', { kind: 'http', status: 200, body: activeBody }, { kind: 'ok', retryable: false }],
    ['200 AAA 42 (payer unable to respond)', { kind: 'http', status: 200, body: aaa('42', 'Resubmission Allowed') }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable }],
    ['200 AAA 79 (payer rejected, connectivity)', { kind: 'http', status: 200, body: aaa('79') }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable }],
    ['200 AAA 80 (no response)', { kind: 'http', status: 200, body: aaa('80', 'Resubmission Allowed', 'payer') }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable }],
    ['200 AAA 42 + Resubmission Not Allowed waits', { kind: 'http', status: 200, body: aaa('42', 'Resubmission Not Allowed') }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable, delay: INTERMEDIARY_OUTAGE_RETRY_DELAY_MS }],
    ['400 AAA 79 (unknown payer) is final', { kind: 'http', status: 400, body: { ...aaa('79'), status: 'ERROR' } }, { kind: 'do-not-resubmit', retryable: false, errorType: ErrorType.StediDoNotResubmit }],
    ['400 AAA 42 body is still connectivity', { kind: 'http', status: 400, body: aaa('42', 'Resubmission Allowed') }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable }],
    ['200 AAA 72 invalid member id (subscriber-level only)', { kind: 'http', status: 200, body: aaa('72', 'Please Correct and Resubmit', 'subscriber') }, { kind: 'do-not-resubmit', retryable: false, errorType: ErrorType.StediDoNotResubmit }],
    ['200 AAA 75 subscriber not found', { kind: 'http', status: 200, body: aaa('75', 'Resubmission Not Allowed') }, { kind: 'do-not-resubmit', retryable: false, errorType: ErrorType.StediDoNotResubmit }],
    ['400 AAA 44 provider name (spec example)', { kind: 'http', status: 400, body: aaa('44') }, { kind: 'do-not-resubmit', retryable: false, errorType: ErrorType.StediDoNotResubmit }],
    ['400 ValidationException', { kind: 'http', status: 400, body: { message: 'bad', fieldList: [{ path: '/provider/npi', message: 'pattern' }] } }, { kind: 'validation', retryable: false, errorType: ErrorType.StediValidation }],
    ['401', { kind: 'http', status: 401, body: { message: 'Unauthorized' } }, { kind: 'auth', retryable: false, errorType: ErrorType.StediAuth }],
    ['403', { kind: 'http', status: 403, body: { message: 'denied' } }, { kind: 'auth', retryable: false, errorType: ErrorType.StediAuth }],
    ['404', { kind: 'http', status: 404, body: { message: 'no batch' } }, { kind: 'validation', retryable: false, errorType: ErrorType.StediValidation }],
    ['409 duplicate batch name', { kind: 'http', status: 409, body: { message: 'dup' } }, { kind: 'validation', retryable: false, errorType: ErrorType.StediValidation }],
    ['429', { kind: 'http', status: 429, body: { code: 'TOO_MANY_REQUESTS', message: 'throttled' } }, { kind: 'throttled', retryable: true, errorType: ErrorType.StediThrottled, delay: THROTTLED_RETRY_DELAY_MS }],
    ['500', { kind: 'http', status: 500, body: { message: 'oops' } }, { kind: 'server', retryable: true, errorType: ErrorType.StediServer }],
    ['502', { kind: 'http', status: 502, body: 'Bad Gateway' }, { kind: 'server', retryable: true, errorType: ErrorType.StediServer }],
    ['503', { kind: 'http', status: 503, body: { message: 'unavailable' } }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable }],
    ['504', { kind: 'http', status: 504, body: { message: 'timeout' } }, { kind: 'payer-unavailable', retryable: true, errorType: ErrorType.StediPayerUnavailable }],
    ['network error', { kind: 'network', timedOut: false, message: 'ECONNRESET' }, { kind: 'server', retryable: true, errorType: ErrorType.StediServer }],
    ['client timeout', { kind: 'network', timedOut: true }, { kind: 'server', retryable: true, errorType: ErrorType.StediServer }],
    ['200 status ERROR without AAA', { kind: 'http', status: 200, body: { status: 'ERROR', errors: [] } }, { kind: 'server', retryable: true, errorType: ErrorType.StediServer }],
  ];

  it.each(cases)('%s', (_name, outcome, expected) => {
    const c = classifyStediOutcome(outcome);
    expect(c.kind).toBe(expected.kind);
    expect(c.retryable).toBe(expected.retryable);
    expect(c.errorType).toBe(expected.errorType);
    expect(c.nextRetryDelayMs).toBe(expected.delay);
    if (c.errorType) expect(NON_RETRYABLE_ERROR_TYPES.includes(c.errorType)).toBe(!c.retryable);
  });

  it('reports AAA codes from entity-level aaaErrors as well as top-level errors', () => {
    const body = { errors: [{ code: '72' }], subscriber: { aaaErrors: [{ code: '72' }, { code: '73', location: 'x' }] } };
    expect(collectAaaErrors(body).map((e) => e.code)).toEqual(['72', '73']);
    expect(classifyStediOutcome({ kind: 'http', status: 200, body }).aaaCodes).toEqual(['72', '73']);
  });

  it('prefers the connectivity verdict when connectivity and member errors are mixed', () => {
    const body = { errors: [{ code: '72' }, { code: '42' }] };
    expect(classifyStediOutcome({ kind: 'http', status: 200, body }).kind).toBe('payer-unavailable');
  });
});

describe('toApplicationFailure', () => {
  it('makes retryable failures retryable and carries Stedi-mandated delays', () => {
    const f = toApplicationFailure(classifyStediOutcome({ kind: 'http', status: 429, body: {} }));
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(ErrorType.StediThrottled);
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay).toBe(THROTTLED_RETRY_DELAY_MS);
  });

  it('makes validation and do-not-resubmit failures non-retryable', () => {
    const v = toApplicationFailure(classifyStediOutcome({ kind: 'http', status: 400, body: { message: 'x' } }));
    expect(v.nonRetryable).toBe(true);
    expect(v.type).toBe(ErrorType.StediValidation);
    const d = toApplicationFailure(classifyStediOutcome({ kind: 'http', status: 200, body: aaa('73') }));
    expect(d.nonRetryable).toBe(true);
    expect(d.type).toBe(ErrorType.StediDoNotResubmit);
    expect(d.details?.[0]).toEqual({ kind: 'do-not-resubmit', httpStatus: 200, aaaCodes: ['73'] });
  });

  it('refuses to turn a success into a failure', () => {
    expect(() => toApplicationFailure(classifyStediOutcome({ kind: 'http', status: 200, body: activeBody }))).toThrow();
  });
});

describe('Retry-After', () => {
  it('reads delta seconds and HTTP dates, caps at 10 minutes, ignores junk', () => {
    expect(parseRetryAfterMs('3')).toBe(3000);
    expect(parseRetryAfterMs('Wed, 02 Dec 2026 06:00:05 GMT', Date.parse('2026-12-02T06:00:00Z'))).toBe(5000);
    expect(parseRetryAfterMs('99999')).toBe(600_000);
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(null)).toBeUndefined();
  });

  it('a 429 waits what Retry-After says, else the default pause', () => {
    expect(classifyStediOutcome({ kind: 'http', status: 429, body: {}, retryAfterMs: 4000 }).nextRetryDelayMs).toBe(4000);
    expect(classifyStediOutcome({ kind: 'http', status: 429, body: {} }).nextRetryDelayMs).toBe(1000);
  });
});
