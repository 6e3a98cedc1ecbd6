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
} as const;
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = [
  ErrorType.StediValidation,
  ErrorType.StediDoNotResubmit,
  ErrorType.StediAuth,
  ErrorType.MemberNotFound,
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
