/**
 * Failure type names are a contract between activities (which throw non-retryable ApplicationFailures
 * with these types) and worker retry policies (nonRetryableErrorTypes). Keep them in this one module.
 */
export const ErrorType = {
  /** Stedi rejected the request shape (HTTP 400) - resubmitting the same request cannot succeed. */
  StediValidation: 'StediValidationError',
  /** Stedi answered an AAA rejection that says "do not resubmit". */
  StediDoNotResubmit: 'StediDoNotResubmitError',
  /** Stedi's concurrency limit was hit (HTTP 429); retry when a slot frees. */
  StediThrottled: 'StediThrottledError',
  /** Payer connectivity problem (AAA 42/79/80, HTTP 503/504); retry with backoff. */
  StediPayerUnavailable: 'StediPayerUnavailableError',
  /** Stedi 5xx or network failure; retry. */
  StediServer: 'StediServerError',
  /** Stedi rejected our credentials (401/403); configuration problem, not retryable. */
  StediAuth: 'StediAuthError',
  /** The member is not in the directory. */
  MemberNotFound: 'MemberNotFoundError',
  /**
   * The member's directory record cannot form a Stedi request (e.g. a malformed date of birth): not retryable until
   * the record is fixed. The same code on the real-time and Stedi batch-API paths.
   */
  InvalidMemberRecord: 'INVALID_MEMBER_RECORD',
  /** Input failed validation; message names the field path. */
  InvalidArgument: 'InvalidArgumentError',
  /** A batch's stored member list is shorter than its recorded size (a storage fault; not retryable). */
  BatchMemberListIncomplete: 'BatchMemberListIncomplete',
  /** A Stedi batch was accepted but its id is not known yet; retry until the first result names it. */
  StediBatchIdPending: 'StediBatchIdPending',
  /** A member_query matched more members than one batch may hold. */
  MemberLimitExceeded: 'MemberLimitExceeded',
  /** Another run of the same member-cron tick is emitting some of this page's members; retry. */
  MemberCronEmissionBusy: 'MemberCronEmissionBusy',
  /** Redis, PostgreSQL or the slot pool was unreachable longer than the in-activity retries; transient, retry. */
  InfrastructureUnavailable: 'InfrastructureUnavailableError',
  /**
   * The worker process was shutting down before this real-time check got its slot: no Stedi call was made. Retryable
   * (another worker, or this one after its restart). A real-time chunk hands such members back as not started.
   */
  WorkerShuttingDown: 'WorkerShuttingDown',
  /** An unexpected platform error (a bug); the library's own error name is never shown to callers. */
  Internal: 'PlatformInternalError',
} as const;
/** The message of a MemberNotFound failure, the same on every path (real time, Stedi batch API, CACHE_ONLY). */
export const MEMBER_NOT_FOUND_MESSAGE = 'member is not in the directory';
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = [
  ErrorType.StediValidation,
  ErrorType.StediDoNotResubmit,
  ErrorType.StediAuth,
  ErrorType.MemberNotFound,
  ErrorType.InvalidMemberRecord,
  ErrorType.InvalidArgument,
];

/** Failures that carry Stedi's own answer (the call reached Stedi): counted as Stedi calls by batches. */
export const STEDI_ANSWERED_FAILURE_TYPES: readonly string[] = [
  ErrorType.StediValidation,
  ErrorType.StediDoNotResubmit,
  ErrorType.StediThrottled,
  ErrorType.StediPayerUnavailable,
  ErrorType.StediServer,
  ErrorType.StediAuth,
];

/** A domain validation error carrying the offending field path (e.g. `member_query.demographics_filter.min_age`). */
export class FieldError extends Error {
  constructor(
    readonly fieldPath: string,
    message: string,
  ) {
    super(`${fieldPath}: ${message}`);
    this.name = 'FieldError';
  }
}

const PLATFORM_ERROR_TYPES: ReadonlySet<string> = new Set<string>(Object.values(ErrorType));

/**
 * The error code callers see for a failure `type` (a Temporal ApplicationFailure type): platform types pass
 * through; anything else (a library's class name such as ioredis' MaxRetriesPerRequestError, a TypeError)
 * becomes `PlatformInternalError`. Other platform-defined codes (e.g. batch.defs) may be allowed by `extra`.
 */
export function platformErrorCode(type: string | undefined | null, extra: readonly string[] = []): string {
  if (type && (PLATFORM_ERROR_TYPES.has(type) || extra.includes(type))) return type;
  return ErrorType.Internal;
}
