import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * Issue 12: a caller facing an outage must hear `unavailable` within 5 s, not after the Temporal client's own
 * retries (~18 s with the SDK's default 10 attempts). Two bounds for clients that answer people (the API):
 *
 * - a **call deadline** on every frontend RPC that does not wait for a worker (start, describe, list, signal…),
 *   so a hung or half-dead frontend cannot hold a request past it;
 * - a **retry budget**: the SDK's retry interceptor with few attempts (an unreachable frontend fails fast with
 *   UNAVAILABLE; three tries take < 0.5 s), so a refused connection surfaces at once.
 *
 * RPCs that legitimately wait for a worker or a workflow (queries, updates, update-with-start, the result's
 * long poll) get no default deadline: the caller bounds them itself with `client.withDeadline` (GetBatchStatus
 * does, then answers from the last durable state). A deadline set by the caller always wins.
 */
export interface BoundedCallOptions {
  /** Default deadline of a frontend RPC that does not wait for a worker. */
  callDeadlineMs: number;
  /** Attempts of the SDK's gRPC retry interceptor (the first call included). */
  maxAttempts: number;
}

export const DEFAULT_BOUNDED_CALLS: BoundedCallOptions = { callDeadlineMs: 4_000, maxAttempts: 3 };

/** Methods that wait for a worker or a workflow: no default deadline (the caller sets one when it needs one). */
export const WORKER_WAITING_METHODS: ReadonlySet<string> = new Set([
  'QueryWorkflow',
  'UpdateWorkflowExecution',
  'PollWorkflowExecutionUpdate',
  'ExecuteMultiOperation',
  'GetWorkflowExecutionHistory',
  'PollWorkflowTaskQueue',
  'PollActivityTaskQueue',
  'PollNexusTaskQueue',
]);

/** `/temporal.api.workflowservice.v1.WorkflowService/DescribeWorkflowExecution` → `DescribeWorkflowExecution`. */
export function grpcMethodName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The deadline a call gets: the caller's own, else the default unless the method waits for a worker. */
export function deadlineFor(path: string, callerDeadline: unknown, nowMs: number, callDeadlineMs: number): unknown {
  if (callerDeadline !== undefined && callerDeadline !== null && callerDeadline !== Infinity) return callerDeadline;
  if (WORKER_WAITING_METHODS.has(grpcMethodName(path))) return callerDeadline;
  return nowMs + callDeadlineMs;
}

export function boundedCallInterceptors(opts: BoundedCallOptions = DEFAULT_BOUNDED_CALLS): GrpcInterceptor[] {
  // grpc-js only uses the returned call through its interface; passing the next call on unchanged is allowed.
  const deadline: GrpcInterceptor = (options, nextCall) =>
    nextCall({ ...options, deadline: deadlineFor(options.method_definition.path, options.deadline, Date.now(), opts.callDeadlineMs) as typeof options.deadline }) as ReturnType<GrpcInterceptor>;
  // Outermost first: the deadline is fixed once, so every retry the interceptor below makes shares it.
  return [deadline, makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: opts.maxAttempts }))];
}
