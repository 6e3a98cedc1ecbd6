import { Code, ConnectError } from '@connectrpc/connect';
import { silentLogger } from '../lib/logger';
import { FieldError } from '../lib/errors';
import { errorChainText, isTemporalUnavailable, toConnectError } from './interceptors';

function err(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const e = new Error(message);
  e.name = name;
  Object.assign(e, extra);
  return e;
}

describe('outages answered unavailable with a retry hint', () => {
  const log = silentLogger();

  it('maps a Redis outage (ioredis) to unavailable + retry-after, never internal or the library class name', () => {
    const ce = toConnectError(err('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 2).'), log, 'm');
    expect(ce.code).toBe(Code.Unavailable);
    expect(ce.metadata.get('retry-after')).toBe('5');
    expect(ce.rawMessage).not.toMatch(/MaxRetries/);
  });

  it('maps PostgreSQL connection failures and an unreachable Temporal frontend to unavailable', () => {
    expect(toConnectError(err('Error', 'connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' }), log, 'm').code).toBe(Code.Unavailable);
    const temporal = err('ServiceError', 'Failed to start workflow', { cause: err('Error', '14 UNAVAILABLE: No connection established', { code: 14 }) });
    expect(isTemporalUnavailable(temporal)).toBe(true);
    expect(toConnectError(temporal, log, 'm').code).toBe(Code.Unavailable);
  });

  it('keeps other mappings: field errors invalid_argument, bugs internal, ConnectErrors as they are', () => {
    expect(toConnectError(new FieldError('member_id', 'required'), log, 'm').code).toBe(Code.InvalidArgument);
    expect(toConnectError(new TypeError('x is undefined'), log, 'm').code).toBe(Code.Internal);
    const nf = new ConnectError('nope', Code.NotFound);
    expect(toConnectError(nf, log, 'm')).toBe(nf);
    expect(isTemporalUnavailable(err('ServiceError', 'workflow not found', { cause: err('Error', '5 NOT_FOUND', { code: 5 }) }))).toBe(false);
  });
});

describe('errorChainText (log lines of a failed status poll)', () => {
  it('names every error of the cause chain with its gRPC code and details', () => {
    const grpc = Object.assign(new Error('9 FAILED_PRECONDITION: sticky worker unavailable'), { code: 9, details: 'sticky worker unavailable' });
    const service = Object.assign(new Error('Failed to query Workflow', { cause: grpc }), { name: 'ServiceError' });
    expect(errorChainText(service)).toBe('ServiceError: Failed to query Workflow <- Error: 9 FAILED_PRECONDITION: sticky worker unavailable [code 9]');
    expect(errorChainText('plain')).toBe('plain');
  });
});
