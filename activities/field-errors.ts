import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, FieldError } from '../lib/errors';

/**
 * A FieldError (a bad member query, a malformed input: the directory's and validators' errors, with field path and
 * position) can never succeed on retry. Thrown raw from an activity it would reach Temporal as a retryable
 * `FieldError`/`PredicateError` failure and be retried ~10 times; this converts it to a non-retryable
 * ApplicationFailure of type `InvalidArgumentError` (keeping the message), so the workflow fails at once and says why.
 */
export function asActivityFailure(err: unknown): unknown {
  if (err instanceof FieldError) {
    return ApplicationFailure.create({ type: ErrorType.InvalidArgument, message: err.message, nonRetryable: true, details: [{ fieldPath: err.fieldPath }] });
  }
  return err;
}

/** Wraps every activity of a registry with `asActivityFailure` (applied once, where the worker's activities are built). */
export function withNonRetryableFieldErrors<T extends Record<string, (...args: never[]) => unknown>>(activities: T): T {
  const out: Record<string, (...args: never[]) => unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw asActivityFailure(err);
      }
    };
  }
  return out as T;
}
