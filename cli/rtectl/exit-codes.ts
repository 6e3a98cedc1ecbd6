import { Code, type ConnectError } from '@connectrpc/connect';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';

/** rtectl's exit codes (docs/rtectl.md). */
export const EXIT = {
  OK: 0,
  /** Anything unexpected (internal error, a bug). */
  ERROR: 1,
  /** Bad input: refused locally before any call, or `invalid_argument` from the API. The field is named. */
  USAGE: 2,
  /** `not_found` (no such batch; CACHE_ONLY with nothing cached). */
  NOT_FOUND: 3,
  /** No token, `unauthenticated` or `permission_denied`. */
  AUTH: 4,
  /** The platform could not answer now (`unavailable`, `resource_exhausted`, `deadline_exceeded`) after retries. */
  UNAVAILABLE: 5,
  /** `failed_precondition` / `already_exists` (e.g. cancel or pause of a finished batch), or a signal not confirmed. */
  CONFLICT: 6,
  /** Watched batch ended PARTIALLY_COMPLETED. */
  BATCH_PARTIAL: 10,
  /** Watched batch ended FAILED. */
  BATCH_FAILED: 11,
  /** Watched batch ended CANCELLED. */
  BATCH_CANCELLED: 12,
  /** Ctrl-C during --watch: watching stopped, the batch keeps running. */
  INTERRUPTED: 130,
} as const;

export function exitCodeForTerminal(s: BatchStatus): number {
  switch (s) {
    case BatchStatus.COMPLETED:
      return EXIT.OK;
    case BatchStatus.PARTIALLY_COMPLETED:
      return EXIT.BATCH_PARTIAL;
    case BatchStatus.FAILED:
      return EXIT.BATCH_FAILED;
    case BatchStatus.CANCELLED:
      return EXIT.BATCH_CANCELLED;
    default:
      return EXIT.OK;
  }
}

export function exitCodeForConnect(err: ConnectError): number {
  switch (err.code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return EXIT.USAGE;
    case Code.NotFound:
      return EXIT.NOT_FOUND;
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return EXIT.AUTH;
    case Code.Unavailable:
    case Code.ResourceExhausted:
    case Code.DeadlineExceeded:
      return EXIT.UNAVAILABLE;
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.Aborted:
      return EXIT.CONFLICT;
    default:
      return EXIT.ERROR;
  }
}
