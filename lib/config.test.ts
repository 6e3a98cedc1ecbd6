import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives the local dev stack defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.api.port).toBe(8080);
    expect(c.temporal.address).toBe('127.0.0.1:7233');
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.slots.total).toBe(15);
    expect(c.cache.successTtlSeconds).toBe(79200);
    expect(c.cache.errorTtlSeconds).toBe(300);
    expect(c.auth).toEqual({ mode: 'dev-hs256', devSecret: 'dev-secret-change-me' });
  });

  it('parses overrides and lists', () => {
    const c = loadConfig({ API_PORT: '9000', KAFKA_BROKERS: 'a:1, b:2', STEDI_SLOTS: '20' });
    expect(c.api.port).toBe(9000);
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(c.slots.total).toBe(20);
  });

  it('warming paging: defaults, overrides, and a page above 10,000 refused', () => {
    expect(loadConfig({}).warming).toEqual({ pageSize: 10_000, continueAsNewAfterEvents: 5_000 });
    expect(loadConfig({ WARMING_PAGE_SIZE: '20', WARMING_CONTINUE_AS_NEW_AFTER_EVENTS: '1' }).warming).toEqual({ pageSize: 20, continueAsNewAfterEvents: 1 });
    expect(() => loadConfig({ WARMING_PAGE_SIZE: '10001' })).toThrow(/WARMING_PAGE_SIZE/);
    expect(() => loadConfig({ BATCH_REALTIME_CHUNK_MEMBERS: '1' })).toThrow(/BATCH_REALTIME_CHUNK_MEMBERS.*at least 2/);
    expect(loadConfig({ BATCH_REALTIME_CHUNK_MEMBERS: '0' }).batch.realtimeChunkMembers).toBe(0);
    expect(loadConfig({}).batch.realtimeChunkMembers).toBe(500);
  });

  it('hedging (STEDI_HEDGE_*): off by default; bad values are refused with their names', () => {
    expect(loadConfig({}).hedge).toEqual({ enabled: false, percentile: 0.9, minMs: 5_000, maxFraction: 0.1, freeSlotsKept: 2 });
    expect(loadConfig({ STEDI_HEDGE: 'on', STEDI_HEDGE_PERCENTILE: '0.75' }).hedge).toMatchObject({ enabled: true, percentile: 0.75 });
    expect(() => loadConfig({ STEDI_HEDGE: 'yes' })).toThrow(/STEDI_HEDGE/);
    expect(() => loadConfig({ STEDI_HEDGE_PERCENTILE: '1' })).toThrow(/STEDI_HEDGE_PERCENTILE/);
    expect(() => loadConfig({ STEDI_HEDGE_MAX_FRACTION: '0.9' })).toThrow(/STEDI_HEDGE_MAX_FRACTION/);
    expect(() => loadConfig({ STEDI_HEDGE_FREE_SLOTS_KEPT: '15' })).toThrow(/STEDI_HEDGE_FREE_SLOTS_KEPT: must be smaller than STEDI_SLOTS/);
  });

  it('webhook allowlist: the local profile opens loopback ports 9800-9899 only; a bare private address is refused at load', () => {
    expect(loadConfig({}).webhooks.allowedHosts).toEqual(['localhost:9800-9899', '127.0.0.1:9800-9899']);
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com, 10.0.0.5:8443' }).webhooks.allowedHosts).toEqual(['hooks.example.com', '10.0.0.5:8443']);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com,127.0.0.1' })).toThrow(/WEBHOOK_ALLOWED_HOSTS.*"127.0.0.1" is a non-public address/);
  });

  it('names every bad variable at once', () => {
    try {
      loadConfig({ API_PORT: 'eighty', PROVIDER_NPI: '123', REDIS_URL: 'not a url' });
      throw new Error('expected ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toContain('API_PORT');
      expect(msg).toContain('PROVIDER_NPI');
      expect(msg).toContain('REDIS_URL');
    }
  });

  it('WARMING_MIN_PROBABILITY: the member-cron warming threshold, default 0.7, refused outside [0, 0.9]', () => {
    expect(loadConfig({}).memberCronConsumer.skipBelow).toBe(0.7);
    expect(loadConfig({ WARMING_MIN_PROBABILITY: '0.6' }).memberCronConsumer.skipBelow).toBe(0.6);
    expect(() => loadConfig({ WARMING_MIN_PROBABILITY: '0.95' })).toThrow(/WARMING_MIN_PROBABILITY/);
    expect(() => loadConfig({ WARMING_MIN_PROBABILITY: 'high' })).toThrow(/WARMING_MIN_PROBABILITY/);
  });

  it('refuses dev secrets and HS256 in production', () => {
    expect(() => loadConfig({ RTE_PROFILE: 'production' })).toThrow(/AUTH_MODE.*jwks[\s\S]*CACHE_KEY_SECRET/);
  });

  it('requires issuer, audience and JWKS URL in jwks mode', () => {
    expect(() => loadConfig({ AUTH_MODE: 'jwks' })).toThrow(/AUTH_JWKS_URL[\s\S]*AUTH_ISSUER[\s\S]*AUTH_AUDIENCE/);
    const c = loadConfig({ AUTH_MODE: 'jwks', AUTH_JWKS_URL: 'https://idp.example/jwks', AUTH_ISSUER: 'idp', AUTH_AUDIENCE: 'rte' });
    expect(c.auth.mode).toBe('jwks');
  });
});

describe('fail-closed configuration (Temporal core)', () => {
  it('refuses dev auth on a non-loopback listener unless explicitly allowed for loopback-published containers', () => {
    expect(() => loadConfig({ API_HOST: '0.0.0.0' })).toThrow(/API_HOST: dev auth .* requires a loopback listener/);
    expect(() => loadConfig({ WORKER_METRICS_HOST: '10.0.0.5' })).toThrow(/WORKER_METRICS_HOST/);
    expect(loadConfig({ API_HOST: '127.0.0.1' }).api.host).toBe('127.0.0.1');
    expect(loadConfig({ API_HOST: '0.0.0.0', AUTH_DEV_ALLOW_NON_LOOPBACK: 'true' }).api.host).toBe('0.0.0.0');
    expect(loadConfig({ API_HOST: '0.0.0.0', AUTH_MODE: 'jwks', AUTH_JWKS_URL: 'https://idp/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }).api.host).toBe('0.0.0.0');
  });

  it('Stedi batch calls get their own manager base URL; production requires it', () => {
    expect(loadConfig({ STEDI_BASE_URL: 'http://sim:8090' }).stedi.batchBaseUrl).toBe('http://sim:8090');
    expect(loadConfig({ STEDI_BATCH_BASE_URL: 'https://manager.us.stedi.com' }).stedi.batchBaseUrl).toBe('https://manager.us.stedi.com');
    expect(() => loadConfig({ RTE_PROFILE: 'production' })).toThrow(/STEDI_BATCH_BASE_URL/);
  });
});

describe('scale-out settings (issue 14): REDIS_CLUSTER_NODES and DATABASE_READ_URL', () => {
  it('REDIS_CLUSTER_NODES: unset is a single Redis; seeds are parsed (IPv6 in brackets); a bad value is refused by name', () => {
    expect(loadConfig({}).redisClusterNodes).toEqual([]);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-0:7000, 10.0.0.2:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: 'redis-0', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    for (const bad of ['', 'redis-0', 'redis-0:0', 'redis-0:70000', 'redis://a:1', 'a:1,,b:2', 'a:1;b:2']) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: bad })).toThrow(/REDIS_CLUSTER_NODES: /);
    }
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:1,b' })).toThrow(/REDIS_CLUSTER_NODES: entry 2 "b" is not host:port/);
  });

  it('DATABASE_READ_URL: defaults to DATABASE_URL; a value that is not a postgres URL is refused by name', () => {
    expect(loadConfig({}).databaseReadUrl).toBe(loadConfig({}).databaseUrl);
    expect(loadConfig({ DATABASE_URL: 'postgres://w@db/rte' }).databaseReadUrl).toBe('postgres://w@db/rte');
    const c = loadConfig({ DATABASE_URL: 'postgres://w@db/rte', DATABASE_READ_URL: 'postgresql://r@replica/rte' });
    expect([c.databaseUrl, c.databaseReadUrl]).toEqual(['postgres://w@db/rte', 'postgresql://r@replica/rte']);
    expect(() => loadConfig({ DATABASE_READ_URL: 'replica:5432' })).toThrow(/DATABASE_READ_URL: expected a postgres/);
    expect(() => loadConfig({ DATABASE_READ_URL: '' })).toThrow(/DATABASE_READ_URL/);
  });
});
