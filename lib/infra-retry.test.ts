import { isInfrastructureError, withInfraRetry } from './infra-retry';
import { ErrorType, platformErrorCode } from './errors';

function named(name: string, message: string, code?: string): Error {
  const e = new Error(message);
  e.name = name;
  if (code) (e as Error & { code: string }).code = code;
  return e;
}

describe('infrastructure errors', () => {
  it('recognises Redis and PostgreSQL outages, not domain or programming errors', () => {
    expect(isInfrastructureError(named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 3).'))).toBe(true);
    expect(isInfrastructureError(named('Error', 'Connection is closed.'))).toBe(true);
    expect(isInfrastructureError(named('Error', 'connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'))).toBe(true);
    expect(isInfrastructureError(named('error', 'terminating connection due to administrator command', '57P01'))).toBe(true);
    expect(isInfrastructureError(named('Error', 'Client has encountered a connection error and is not queryable'))).toBe(true);
    expect(isInfrastructureError(named('Error', 'Client was closed and is not queryable'))).toBe(true);
    expect(isInfrastructureError(named('ReplyError', 'LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isInfrastructureError(new Error('wrapped', { cause: named('Error', 'x', 'ECONNRESET') }))).toBe(true);
    expect(isInfrastructureError(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isInfrastructureError(named('StediThrottledError', 'Stedi concurrency limit reached (HTTP 429)'))).toBe(false);
    expect(isInfrastructureError('ECONNREFUSED')).toBe(false);
  });

  it('retries an outage with backoff until it passes, within the deadline', async () => {
    let t = 0;
    const waits: number[] = [];
    let calls = 0;
    const out = await withInfraRetry(
      async () => {
        calls += 1;
        if (calls < 4) throw named('MaxRetriesPerRequestError', 'Reached the max retries per request limit');
        return 'ok';
      },
      { deadlineMs: 60_000, now: () => t, sleep: async (ms) => void (waits.push(ms), (t += ms)) },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(4);
    expect(waits).toHaveLength(3);
    expect(waits[2]!).toBeGreaterThan(waits[0]!);
  });

  it('gives up at the deadline with the last error, and never retries a non-infrastructure error', async () => {
    let t = 0;
    const outage = named('MaxRetriesPerRequestError', 'Reached the max retries per request limit');
    await expect(withInfraRetry(() => Promise.reject(outage), { deadlineMs: 3_000, now: () => t, sleep: async (ms) => void (t += ms) })).rejects.toBe(outage);
    expect(t).toBeLessThanOrEqual(3_000);
    let calls = 0;
    const bug = new TypeError('bug');
    await expect(withInfraRetry(() => (calls++, Promise.reject(bug)), { deadlineMs: 60_000 })).rejects.toBe(bug);
    expect(calls).toBe(1);
  });
});

describe('platform error codes', () => {
  it('passes platform types through and hides library class names', () => {
    expect(platformErrorCode(ErrorType.StediThrottled)).toBe('StediThrottledError');
    expect(platformErrorCode(ErrorType.InfrastructureUnavailable)).toBe('InfrastructureUnavailableError');
    expect(platformErrorCode('MaxRetriesPerRequestError')).toBe('PlatformInternalError');
    expect(platformErrorCode('TypeError')).toBe('PlatformInternalError');
    expect(platformErrorCode(undefined)).toBe('PlatformInternalError');
    expect(platformErrorCode('MemberLimitExceeded', ['MemberLimitExceeded'])).toBe('MemberLimitExceeded');
  });
});
