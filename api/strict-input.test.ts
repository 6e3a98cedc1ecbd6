import { create, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { fromBinary } from '@bufbuild/protobuf';
import { BatchEventType, BatchStatusUpdateSchema, ListBatchesRequestSchema, SubmitBatchRequestSchema } from '../gen/rte/v1/batch_pb';
import { findInputProblem, findJsonInputProblem, STRICT_JSON_OPTIONS } from './strict-input';

describe('strict input over the generated descriptors (every RPC)', () => {
  test('unknown enum numbers are found with their field path, nested, in lists and oneofs', () => {
    const m = create(SubmitBatchRequestSchema, {
      clientJobId: 'j',
      memberSelector: { case: 'memberQuery', value: { accountStatuses: [1, 99] } },
    } as never);
    expect(findInputProblem(SubmitBatchRequestSchema, m)).toMatchObject({ path: 'member_query.account_statuses[1]' });
    const o = create(SubmitBatchRequestSchema, { clientJobId: 'j', options: { priority: 7 } } as never);
    expect(findInputProblem(SubmitBatchRequestSchema, o)).toMatchObject({ path: 'options.priority' });
    expect(findInputProblem(ListBatchesRequestSchema, create(ListBatchesRequestSchema, { statuses: [1] }))).toBeUndefined();
  });

  test('unknown binary fields are found (they would otherwise be dropped silently)', () => {
    const bytes = Buffer.concat([toBinary(ListBatchesRequestSchema, create(ListBatchesRequestSchema, { pageSize: 3 })), new BinaryWriter().tag(999, WireType.Varint).int32(1).finish()]);
    expect(findInputProblem(ListBatchesRequestSchema, fromBinary(ListBatchesRequestSchema, bytes))?.message).toContain('unknown field number 999');
  });

  test('JSON: unknown keys and enum strings are named by field path', () => {
    expect(findJsonInputProblem(SubmitBatchRequestSchema, { clientJobId: 'j', options: { priority: 'PRIORITY_ULTRA' } })).toMatchObject({ path: 'options.priority' });
    expect(findJsonInputProblem(SubmitBatchRequestSchema, { cacheControl: 'CACHE_ONLY' })).toMatchObject({ path: 'cache_control' });
    expect(findJsonInputProblem(SubmitBatchRequestSchema, { memberQuery: { demographicsFilter: { oldest: 3 } } })).toMatchObject({ path: 'member_query.demographics_filter.oldest' });
    expect(findJsonInputProblem(ListBatchesRequestSchema, { submittedAfter: 'yesterday' })).toMatchObject({ path: 'submitted_after' });
    expect(findJsonInputProblem(SubmitBatchRequestSchema, { client_job_id: 'j', options: { priority: 'PRIORITY_HIGH' } })).toBeUndefined();
  });

  test('JSON: two members of one oneof are named by the oneof (member_selector), not the codec\'s type name (probe p16 #11c)', () => {
    const both = { clientJobId: 'j', memberIds: { memberIds: ['m_1'] }, memberQuery: { limit: 1 } };
    expect(() => fromJson(SubmitBatchRequestSchema, both)).toThrow(/oneof set multiple times/);
    const bad = findJsonInputProblem(SubmitBatchRequestSchema, both);
    expect(bad).toEqual({ path: 'member_selector', message: 'set only one of member_ids, member_query (got member_ids and member_query)' });
    expect(findJsonInputProblem(SubmitBatchRequestSchema, { clientJobId: 'j', member_ids: { memberIds: ['m_1'] }, memberQuery: null })).toBeUndefined();
  });

  test('JSON: a scalar of the wrong type is named by its request path (0-based list index), not its type name', () => {
    const list = findJsonInputProblem(SubmitBatchRequestSchema, { memberIds: { memberIds: ['m_1', 7] } });
    expect(list).toMatchObject({ path: 'member_ids.member_ids[1]' });
    expect(list?.message).not.toContain('rte.v1.');
    const nested = findJsonInputProblem(SubmitBatchRequestSchema, { clientJobId: 'j', options: { maxConcurrentRequests: 'lots' } });
    expect(nested).toMatchObject({ path: 'options.max_concurrent_requests' });
    expect(nested?.message).not.toContain('rte.v1.');
    expect(findJsonInputProblem(SubmitBatchRequestSchema, { clientJobId: 'j', options: { maxConcurrentRequests: 3 } })).toBeUndefined();
  });

  test('JSON answers spell out zero values (WatchBatchStatus STARTED keeps its eventType)', () => {
    const u = create(BatchStatusUpdateSchema, { eventType: BatchEventType.EVENT_TYPE_STARTED, batchId: 'b' });
    expect(toJson(BatchStatusUpdateSchema, u, STRICT_JSON_OPTIONS)).toMatchObject({ eventType: 'EVENT_TYPE_STARTED' });
  });
});
