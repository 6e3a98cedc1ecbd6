import { payerErrorReason } from './reasons';

describe('payerErrorReason', () => {
  it.each([
    [[{ code: '42', description: 'Unable to Respond at Current Time' }], 'PAYER_ERROR: AAA 42 Unable to Respond at Current Time'],
    [[{ code: '75', description: 'Subscriber/Insured Not Found' }, { code: '72', description: 'Invalid/Missing Subscriber/Insured ID' }], 'PAYER_ERROR: AAA 75 Subscriber/Insured Not Found'],
    [[{ code: '73', description: null }], 'PAYER_ERROR: AAA 73'],
    [[{ code: '', description: 'payer down' }], 'PAYER_ERROR: payer down'],
    [[], 'PAYER_ERROR: the payer answered with an error'],
  ])('%j → %s', (errors, reason) => {
    expect(payerErrorReason(errors)).toBe(reason);
  });
});
