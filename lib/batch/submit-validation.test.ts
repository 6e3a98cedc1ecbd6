import { create, fromJson } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { NotificationPreferences_DeliveryMode, SubmitBatchRequestSchema, type SubmitBatchRequest } from '../../gen/rte/v1/batch_pb';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { FieldError } from '../errors';
import { DEFAULT_SUBMIT_LIMITS, validateSubmitBatch, type SubmitLimits } from './submit-validation';

const limits: SubmitLimits = { ...DEFAULT_SUBMIT_LIMITS, webhook: { allowedHosts: ['hooks.example.com', '.partner.test', '127.0.0.1:9800-9899'], allowHttp: false } };

function req(init: Record<string, unknown> = {}): SubmitBatchRequest {
  return create(SubmitBatchRequestSchema, {
    clientServiceName: 'medication-service',
    clientJobId: 'nightly-2024-11-13',
    memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm_2'] } },
    ...init,
  } as never);
}

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FieldError) return err.fieldPath;
    throw err;
  }
  throw new Error('expected a FieldError');
}

describe('validateSubmitBatch', () => {
  test('defaults: LOW/OPTIMAL/ANY, 15 concurrent, 8 h timeout, 3 attempts, AT_LEAST_ONCE, platform topic', () => {
    const v = validateSubmitBatch(req(), limits);
    expect(v.selector).toEqual({ kind: 'ids', memberIds: ['m_1', 'm_2'], duplicatesRemoved: 0 });
    expect(v.options).toEqual({
      priority: 'LOW',
      strategy: 'OPTIMAL',
      schedulingWindow: 'ANY',
      maxConcurrentRequests: 15,
      timeoutMs: 8 * 3_600_000,
      retry: { maxAttempts: 3, initialIntervalMs: 2000, maxIntervalMs: 300_000, backoffMultiplier: 2 },
      notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
      cacheMode: 'DEFAULT',
    });
  });

  test('explicit options are resolved', () => {
    const v = validateSubmitBatch(
      req({
        cacheControl: CacheControl.PREFER_CACHED,
        options: {
          priority: 2,
          strategy: 2,
          schedulingWindow: 2,
          maxConcurrentRequests: 5,
          timeout: durationFromMs(3_600_000),
          retryConfig: { maxAttempts: 5, initialInterval: durationFromMs(1000), maxInterval: durationFromMs(60_000), backoffMultiplier: 1.1 },
          notifications: { callbackUrl: 'https://hooks.example.com/batch', eventTypes: ['completed', 'PROGRESS_UPDATE'], deliveryMode: 0 },
        },
      }),
      limits,
    );
    expect(v.options).toMatchObject({
      priority: 'HIGH',
      strategy: 'REALTIME_ONLY',
      schedulingWindow: 'MORNING',
      maxConcurrentRequests: 5,
      timeoutMs: 3_600_000,
      retry: { maxAttempts: 5, initialIntervalMs: 1000, maxIntervalMs: 60_000, backoffMultiplier: 1.1 },
      notifications: { callbackUrl: 'https://hooks.example.com/batch', eventTypes: ['COMPLETED', 'PROGRESS'], deliveryMode: 'BEST_EFFORT' },
      cacheMode: 'PREFER_CACHED',
    });
  });

  test('an empty notifications.callback_url does not hide options.callback_url; without a callback the delivery mode is moot', () => {
    const legacy = validateSubmitBatch(req({ options: { callbackUrl: 'https://hooks.example.com/legacy', notifications: { callbackUrl: '', deliveryMode: 1 } } }), limits);
    expect(legacy.options.notifications).toMatchObject({ callbackUrl: 'https://hooks.example.com/legacy', deliveryMode: 'AT_LEAST_ONCE' });
    // The default topic spelled out, or an empty notifications message, resolve as leaving them out (same idempotency hash).
    const plain = validateSubmitBatch(req(), limits).options;
    expect(validateSubmitBatch(req({ options: { notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events' } } }), limits).options).toEqual(plain);
    expect(validateSubmitBatch(req({ options: { notifications: {} } }), limits).options).toEqual(plain);
  });

  // Probe p16 #10: the two callback URL fields silently overrode each other, and the URL under notifications with no
  // delivery_mode resolved to BEST_EFFORT (one attempt) while options.callback_url resolved to AT_LEAST_ONCE.
  test('two different callback URLs are refused naming notifications.callback_url; the same URL twice is one callback', () => {
    const both = (a: string, b: string) => req({ options: { callbackUrl: a, notifications: { callbackUrl: b } } });
    expect(fieldOf(() => validateSubmitBatch(both('https://hooks.example.com/a', 'https://hooks.example.com/b'), limits))).toBe('options.notifications.callback_url');
    expect(validateSubmitBatch(both('https://hooks.example.com/a', 'https://hooks.example.com/a'), limits).options.notifications).toMatchObject({
      callbackUrl: 'https://hooks.example.com/a',
      deliveryMode: 'AT_LEAST_ONCE',
    });
  });

  test('an unset delivery_mode is AT_LEAST_ONCE wherever the callback URL is given; BEST_EFFORT when sent explicitly', () => {
    const url = 'https://hooks.example.com/batch';
    const mode = (options: Record<string, unknown>) => validateSubmitBatch(req({ options }), limits).options.notifications.deliveryMode;
    expect(mode({ callbackUrl: url })).toBe('AT_LEAST_ONCE');
    expect(mode({ notifications: { callbackUrl: url } })).toBe('AT_LEAST_ONCE');
    expect(mode({ callbackUrl: url, notifications: { eventTypes: ['COMPLETED'] } })).toBe('AT_LEAST_ONCE');
    expect(mode({ notifications: { callbackUrl: url, deliveryMode: NotificationPreferences_DeliveryMode.DELIVERY_BEST_EFFORT } })).toBe('BEST_EFFORT');
    expect(mode({ callbackUrl: url, notifications: { deliveryMode: NotificationPreferences_DeliveryMode.DELIVERY_BEST_EFFORT } })).toBe('BEST_EFFORT');
    expect(mode({ notifications: { callbackUrl: url, deliveryMode: NotificationPreferences_DeliveryMode.DELIVERY_AT_LEAST_ONCE } })).toBe('AT_LEAST_ONCE');
    // The same over the wire: JSON without the key is unset; JSON naming DELIVERY_BEST_EFFORT is BEST_EFFORT.
    const fromJ = (notifications: Record<string, unknown>) =>
      validateSubmitBatch(fromJson(SubmitBatchRequestSchema, { clientJobId: 'job-1', memberIds: { memberIds: ['m_1'] }, options: { notifications: { callbackUrl: url, ...notifications } } }), limits)
        .options.notifications.deliveryMode;
    expect(fromJ({})).toBe('AT_LEAST_ONCE');
    expect(fromJ({ deliveryMode: 'DELIVERY_BEST_EFFORT' })).toBe('BEST_EFFORT');
  });

  test('duplicate member ids are removed and counted', () => {
    const v = validateSubmitBatch(req({ memberSelector: { case: 'memberIds', value: { memberIds: ['a', 'b', 'a', 'a'] } } }), limits);
    expect(v.selector).toEqual({ kind: 'ids', memberIds: ['a', 'b'], duplicatesRemoved: 2 });
  });

  test('100,000 ids are accepted, 100,001 are not', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `m_${i}`);
    expect(validateSubmitBatch(req({ memberSelector: { case: 'memberIds', value: { memberIds: ids } } }), limits).selector).toMatchObject({ kind: 'ids' });
    expect(fieldOf(() => validateSubmitBatch(req({ memberSelector: { case: 'memberIds', value: { memberIds: [...ids, 'x'] } } }), limits))).toBe('member_ids.member_ids');
  });

  test.each([
    ['missing job id', { clientJobId: '' }, 'client_job_id'],
    ['job id with a slash', { clientJobId: 'a/b' }, 'client_job_id'],
    ['service with a space', { clientServiceName: 'a b' }, 'client_service_name'],
    ['no selector', { memberSelector: { case: undefined } }, 'member_selector'],
    ['empty id list', { memberSelector: { case: 'memberIds', value: { memberIds: [] } } }, 'member_ids.member_ids'],
    ['blank id', { memberSelector: { case: 'memberIds', value: { memberIds: ['ok', ' '] } } }, 'member_ids.member_ids[1]'],
    ['id with a zero-width space', { memberSelector: { case: 'memberIds', value: { memberIds: ['ok', 'm_0000001\u200b'] } } }, 'member_ids.member_ids[1]'],
    ['unknown priority', { options: { priority: 9 } }, 'options.priority'],
    ['unknown strategy', { options: { strategy: 3 } }, 'options.strategy'],
    ['unknown window', { options: { schedulingWindow: 6 } }, 'options.scheduling_window'],
    ['unknown cache control', { cacheControl: 5 }, 'cache_control'],
    ['16 concurrent', { options: { maxConcurrentRequests: 16 } }, 'options.max_concurrent_requests'],
    ['negative concurrent', { options: { maxConcurrentRequests: -1 } }, 'options.max_concurrent_requests'],
    ['timeout 30 s', { options: { timeout: durationFromMs(30_000) } }, 'options.timeout'],
    ['timeout 3 days', { options: { timeout: durationFromMs(72 * 3_600_000) } }, 'options.timeout'],
    ['negative timeout', { options: { timeout: { seconds: -5n, nanos: 0 } } }, 'options.timeout'],
    ['11 attempts', { options: { retryConfig: { maxAttempts: 11 } } }, 'options.retry_config.max_attempts'],
    ['max < initial', { options: { retryConfig: { initialInterval: durationFromMs(60_000), maxInterval: durationFromMs(1000) } } }, 'options.retry_config.max_interval'],
    ['multiplier 0.5', { options: { retryConfig: { backoffMultiplier: 0.5 } } }, 'options.retry_config.backoff_multiplier'],
    ['http callback', { options: { callbackUrl: 'http://hooks.example.com/x' } }, 'options.callback_url'],
    ['callback not allowlisted', { options: { callbackUrl: 'https://evil.example.org/x' } }, 'options.callback_url'],
    ['callback with credentials', { options: { notifications: { callbackUrl: 'https://u:p@hooks.example.com/' } } }, 'options.notifications.callback_url'],
    ['callback to metadata IP', { options: { callbackUrl: 'https://169.254.169.254/latest' } }, 'options.callback_url'],
    ['not a URL', { options: { callbackUrl: 'hooks.example.com/x' } }, 'options.callback_url'],
    ['unknown event type', { options: { notifications: { eventTypes: ['STARTED', 'EXPLODED'] } } }, 'options.notifications.event_types[1]'],
    ['unknown delivery mode', { options: { notifications: { deliveryMode: 7 } } }, 'options.notifications.delivery_mode'],
    ['event types without a callback (they would filter nothing)', { options: { notifications: { eventTypes: ['COMPLETED'] } } }, 'options.notifications.event_types'],
    ['explicit BEST_EFFORT without a callback (probe p18 contract F8: answered AT_LEAST_ONCE)', { options: { notifications: { deliveryMode: 0 } } }, 'options.notifications.delivery_mode'],
    ['foreign kafka topic', { options: { notifications: { kafkaTopic: 'payments.events' } } }, 'options.notifications.kafka_topic'],
  ] as const)('%s → FieldError at %s', (_name, init, field) => {
    expect(fieldOf(() => validateSubmitBatch(req(init as Record<string, unknown>), limits))).toBe(field);
  });

  test('suffix allowlist entries and http in the local profile', () => {
    expect(validateSubmitBatch(req({ options: { callbackUrl: 'https://a.partner.test/cb' } }), limits).options.notifications.callbackUrl).toBe('https://a.partner.test/cb');
    expect(fieldOf(() => validateSubmitBatch(req({ options: { callbackUrl: 'https://partner.test/cb' } }), limits))).toBe('options.callback_url');
    const local = { ...limits, webhook: { ...limits.webhook, allowHttp: true } };
    expect(validateSubmitBatch(req({ options: { callbackUrl: 'http://127.0.0.1:9850/cb' } }), local).options.notifications.callbackUrl).toBe('http://127.0.0.1:9850/cb');
    // Any other loopback port (here Redis's) is refused at once, naming the field (probe p18 F1).
    expect(fieldOf(() => validateSubmitBatch(req({ options: { callbackUrl: 'http://127.0.0.1:6379/' } }), local))).toBe('options.callback_url');
  });

  test('a member query is accepted as a selector', () => {
    expect(validateSubmitBatch(req({ memberSelector: { case: 'memberQuery', value: { hasRteEnabled: true } } }), limits).selector).toEqual({ kind: 'query' });
  });
});
