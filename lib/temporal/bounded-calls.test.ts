import { deadlineFor, grpcMethodName } from './bounded-calls';

const svc = '/temporal.api.workflowservice.v1.WorkflowService/';

describe('bounded Temporal calls (issue 12)', () => {
  it('gives frontend-only RPCs the default deadline', () => {
    expect(deadlineFor(`${svc}DescribeWorkflowExecution`, undefined, 1_000, 4_000)).toBe(5_000);
    expect(deadlineFor(`${svc}StartWorkflowExecution`, undefined, 1_000, 4_000)).toBe(5_000);
    expect(deadlineFor(`${svc}ListWorkflowExecutions`, Infinity, 1_000, 4_000)).toBe(5_000);
  });

  it('leaves RPCs that wait for a worker or a workflow to their caller', () => {
    for (const m of ['QueryWorkflow', 'UpdateWorkflowExecution', 'ExecuteMultiOperation', 'GetWorkflowExecutionHistory', 'PollWorkflowExecutionUpdate']) {
      expect(deadlineFor(`${svc}${m}`, undefined, 1_000, 4_000)).toBeUndefined();
    }
  });

  it("keeps a caller's own deadline", () => {
    expect(deadlineFor(`${svc}QueryWorkflow`, 2_500, 1_000, 4_000)).toBe(2_500);
    expect(deadlineFor(`${svc}DescribeWorkflowExecution`, 9_000, 1_000, 4_000)).toBe(9_000);
  });

  it('reads the method from a gRPC path', () => {
    expect(grpcMethodName(`${svc}QueryWorkflow`)).toBe('QueryWorkflow');
  });
});
