import { checkWebhookTarget, isAddressAllowed, isHostAllowlisted, isNonPublicAddress } from './webhook-target';

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
    expect(isHostAllowlisted('HOOKS.example.com', list)).toBe(true);
    expect(isHostAllowlisted('x.hooks.example.com', list)).toBe(false);
    expect(isHostAllowlisted('a.b.partner.test', list)).toBe(true);
    expect(isHostAllowlisted('partner.test', list)).toBe(false);
    expect(isHostAllowlisted('evilpartner.test', list)).toBe(false);
    expect(isHostAllowlisted('anything', [])).toBe(false);
  });

  test('a private address passes only when that exact address is allowlisted', () => {
    const policy = { allowedHosts: ['127.0.0.1'], allowHttp: true };
    expect(isAddressAllowed('127.0.0.1', policy)).toBe(true);
    expect(isAddressAllowed('127.0.0.2', policy)).toBe(false);
    expect(isAddressAllowed('93.184.216.34', policy)).toBe(true);
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
