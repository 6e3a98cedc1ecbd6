import { checkWebhookTarget, isAddressAllowed, isHostAllowlisted, isNonPublicAddress, parseAllowEntry, parseAllowlist } from './webhook-target';

describe('webhook target policy', () => {
  test.each([
    ['10.1.2.3', true],
    ['172.20.0.1', true],
    ['192.168.1.1', true],
    ['127.0.0.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:10.0.0.1', true],
    ['8.8.8.8', false],
    ['2606:4700::1111', false],
    ['not-an-ip', true],
  ])('%s is non-public: %s', (addr, expected) => {
    expect(isNonPublicAddress(addr)).toBe(expected);
  });

  test('allowlist: exact hosts and dot-suffixes', () => {
    const list = ['hooks.example.com', '.partner.test'];
    expect(isHostAllowlisted('HOOKS.example.com', 443, list)).toBe(true);
    expect(isHostAllowlisted('x.hooks.example.com', 443, list)).toBe(false);
    expect(isHostAllowlisted('a.b.partner.test', 443, list)).toBe(true);
    expect(isHostAllowlisted('partner.test', 443, list)).toBe(false);
    expect(isHostAllowlisted('evilpartner.test', 443, list)).toBe(false);
    expect(isHostAllowlisted('anything', 443, [])).toBe(false);
  });

  test('allowlist entries with a port or a port range match only those ports', () => {
    const list = ['hooks.example.com:8443', '.partner.test:9000-9010', '[fd00::5]:7000'];
    expect(isHostAllowlisted('hooks.example.com', 8443, list)).toBe(true);
    expect(isHostAllowlisted('hooks.example.com', 443, list)).toBe(false);
    expect(isHostAllowlisted('a.partner.test', 9000, list)).toBe(true);
    expect(isHostAllowlisted('a.partner.test', 9010, list)).toBe(true);
    expect(isHostAllowlisted('a.partner.test', 9011, list)).toBe(false);
    expect(isHostAllowlisted('[fd00::5]', 7000, list)).toBe(true);
    expect(parseAllowEntry('[::1]:9800-9899')).toEqual({ host: '::1', suffix: false, ports: [9800, 9899] });
    expect(parseAllowEntry('::1')).toEqual({ host: '::1', suffix: false, ports: null });
    for (const bad of ['host:0', 'host:70000', 'host:9-8', 'host:x', '[::1', '[::1]8443', ':8443']) expect(() => parseAllowEntry(bad)).toThrow();
  });

  // Probe p18 F1: a bare "127.0.0.1" opened every loopback port (Redis, Temporal, the codec server, the API) to any
  // client with rte:batch:submit; the delivery error then told it which ports answered.
  test('a private address passes only when that exact address is allowlisted with the port', () => {
    const policy = { allowedHosts: ['127.0.0.1:9800-9899', '10.0.0.1'], allowHttp: true };
    expect(isAddressAllowed('127.0.0.1', 9800, policy)).toBe(true);
    expect(isAddressAllowed('127.0.0.1', 6379, policy)).toBe(false);
    expect(isAddressAllowed('127.0.0.2', 9800, policy)).toBe(false);
    // A portless entry never opens a non-public address (config load refuses one: below).
    expect(isAddressAllowed('10.0.0.1', 443, policy)).toBe(false);
    expect(isAddressAllowed('93.184.216.34', 6379, policy)).toBe(true);
  });

  test('config: a non-public address without a port is refused with the way to write it; public hosts need none', () => {
    expect(() => parseAllowlist(['127.0.0.1'])).toThrow(/"127.0.0.1" is a non-public address: name the receiver's port or port range \(e.g. 127.0.0.1:8443\)/);
    expect(() => parseAllowlist(['::1'])).toThrow(/\[::1\]:8443/);
    expect(() => parseAllowlist(['hooks.example.com', 'x:0'])).toThrow(/"x:0": the port must be 1-65535/);
    expect(parseAllowlist(['hooks.example.com', '.partner.test', 'localhost', '127.0.0.1:9800-9899'])).toHaveLength(4);
  });

  test.each([
    // Every spelling of loopback normalises to 127.0.0.1 and is judged on its port.
    ['http://127.0.0.1:9850/cb', true],
    ['http://127.0.0.1:6379/', false],
    ['http://127.0.0.1:8091/decode', false],
    ['http://0x7f000001:7233/', false],
    ['http://2130706433:8080/', false],
    ['http://127.1:9850/cb', true],
    ['http://LOCALHOST:8091/decode', false],
    ['http://localhost:9850/cb', true],
    ['http://127.0.0.1/cb', false],
  ])('local profile allowlist: %s accepted: %s', (url, ok) => {
    expect(checkWebhookTarget(url, { allowedHosts: ['localhost:9800-9899', '127.0.0.1:9800-9899'], allowHttp: true }).ok).toBe(ok);
  });

  test.each([
    ['https://hooks.example.com/cb', true],
    ['http://hooks.example.com/cb', false],
    ['ftp://hooks.example.com/cb', false],
    ['https://user:pw@hooks.example.com/cb', false],
    ['https://10.0.0.1/cb', false],
    ['https://[::1]/cb', false],
  ])('%s accepted: %s', (url, ok) => {
    expect(checkWebhookTarget(url, { allowedHosts: ['hooks.example.com', '10.0.0.1x'], allowHttp: false }).ok).toBe(ok);
  });
});
