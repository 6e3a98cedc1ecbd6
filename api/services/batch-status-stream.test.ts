import { Code, ConnectError } from '@connectrpc/connect';
import { unaskableReason } from './batch-status-stream';

describe('unaskableReason (what a client is told when a batch status could not be read for 60 s)', () => {
  test('names the error class in fixed words and never quotes the error', () => {
    const secret = 'Failed to query Workflow: 10.0.3.7:7233 sticky queue rte-worker-4f1/…';
    expect(unaskableReason(new ConnectError(secret, Code.DeadlineExceeded))).toBe('the status read timed out');
    expect(unaskableReason(new ConnectError(secret, Code.Unavailable))).toBe('a service the status read needs is unavailable');
    expect(unaskableReason(new ConnectError(secret, Code.Internal))).toBe('the batch workflow did not answer its status query');
    expect(unaskableReason(new Error(secret))).toBe('the batch workflow did not answer its status query');
    expect(unaskableReason(secret)).toBe('the batch workflow did not answer its status query');
  });
});
