import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { SignJWT } from 'jose';
import pino from 'pino';
import { BatchEligibilityService, BatchStatus } from '../gen/rte/v1/batch_pb';
import { mintDevToken } from '../lib/dev-token';
import { createMetrics } from '../lib/metrics';
import { createAuthInterceptor, createTokenVerifier } from './auth';
import { auditTarget, createObservabilityInterceptor } from './interceptors';
import { createBatchService } from './services/batch-service';
import { createInMemoryBatchErrorStore, createInMemoryMemberListStore } from '../activities/batch/memory-stores';
import { createInMemorySubmitRateLimiter } from '../lib/batch/submit-rate-limiter';

const secret = 'audit-test-secret';
const metrics = createMetrics('audit-test');

function setup() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const notHere = async () => {
    throw new ConnectError('batch not found', Code.NotFound);
  };
  const service = createBatchService({
    temporal: { start: notHere, startAndAccept: notHere, exists: async () => false, accepted: notHere, status: async () => undefined, cancel: notHere, pause: notHere, resume: notHere, list: notHere },
    lists: createInMemoryMemberListStore(),
    errors: createInMemoryBatchErrorStore(),
    rateLimiter: createInMemorySubmitRateLimiter({ limit: 10, windowMs: 3_600_000 }),
    taskQueue: 'rte-main',
  });
  const transport = createRouterTransport((router) => router.service(BatchEligibilityService, service), {
    router: { interceptors: [createObservabilityInterceptor(logger, metrics), createAuthInterceptor(createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }))] },
  });
  return { lines, client: createClient(BatchEligibilityService, transport) };
}

const as = async (service: string, scopes: string[]) => ({ headers: { authorization: `Bearer ${await mintDevToken({ service, scopes, secret })}` } });
const audits = (lines: Record<string, unknown>[]) => lines.filter((l) => l['audit'] === true);

describe('auth edges and audit lines (issue 10)', () => {
  test('a token without exp is refused', async () => {
    const { client } = setup();
    const forever = await new SignJWT({ scope: 'rte:batch:read' }).setProtectedHeader({ alg: 'HS256' }).setSubject('svc-a').setIssuedAt().sign(new TextEncoder().encode(secret));
    const err = await client.listBatches({}, { headers: { authorization: `Bearer ${forever}` } }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).message).toContain('exp');
  });

  test('a permission-denied audit line names the caller', async () => {
    const { client, lines } = setup();
    await client.cancelBatch({ batchId: 'batch/svc-a/job-1', reason: 'x' }, await as('svc-reader', ['rte:batch:read'])).catch(() => undefined);
    const [line] = audits(lines);
    expect(line).toMatchObject({ method: 'rte.v1.BatchEligibilityService/CancelBatch', code: 'PermissionDenied', caller: 'svc-reader' });
  });

  test('audit lines carry batch id, client job id and cancel reason', async () => {
    const { client, lines } = setup();
    await client.cancelBatch({ batchId: 'batch/svc-a/job-1', reason: 'operator asked' }, await as('svc-a', ['rte:batch:cancel', 'rte:batch:read'])).catch(() => undefined);
    await client.submitBatch({ clientJobId: 'job-9', memberSelector: { case: 'memberIds', value: { memberIds: ['m_1'] } } }, await as('svc-a', ['rte:batch:submit'])).catch(() => undefined);
    const [cancel, submit] = audits(lines);
    expect(cancel).toMatchObject({ caller: 'svc-a', batchId: 'batch/svc-a/job-1', cancelReason: 'operator asked' });
    expect(submit).toMatchObject({ caller: 'svc-a', clientJobId: 'job-9' });
    expect(auditTarget({ batchId: 'b', reason: 'quiet hours' }, undefined, 'rte.v1.BatchEligibilityService/PauseBatch')).toEqual({ batchId: 'b', reason: 'quiet hours' });
    // Never member ids.
    expect(JSON.stringify(lines)).not.toContain('m_1');
  });

  test("a cancel, pause or resume audit line says the batch's status after it: a cancel of a finished batch is not a cancellation", () => {
    const cancel = 'rte.v1.BatchEligibilityService/CancelBatch';
    expect(auditTarget({ batchId: 'b', reason: 'again' }, { batchId: 'b', status: BatchStatus.COMPLETED }, cancel)).toEqual({ batchId: 'b', cancelReason: 'again', resultStatus: 'COMPLETED' });
    expect(auditTarget({ batchId: 'b', reason: 'stop' }, { batchId: 'b', status: BatchStatus.CANCELLED }, cancel)).toEqual({ batchId: 'b', cancelReason: 'stop', resultStatus: 'CANCELLED' });
    expect(auditTarget({ batchId: 'b' }, { batchId: 'b', status: BatchStatus.PAUSED }, 'rte.v1.BatchEligibilityService/PauseBatch')).toEqual({ batchId: 'b', resultStatus: 'PAUSED' });
    // A refused call has no response, and other RPCs' `status` fields are not read.
    expect(auditTarget({ batchId: 'b', reason: 'stop' }, undefined, cancel)).toEqual({ batchId: 'b', cancelReason: 'stop' });
    expect(auditTarget({ clientJobId: 'j' }, { batchId: 'b', status: BatchStatus.PENDING }, 'rte.v1.BatchEligibilityService/SubmitBatch')).toEqual({ batchId: 'b', clientJobId: 'j' });
  });
});
