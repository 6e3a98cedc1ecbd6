/** The error a batch member gets when the payer answered with an error (the cached payer-error verdict). */
export const PAYER_ERROR = { code: 'PAYER_ERROR', message: 'the payer answered with an error (cached for 5 minutes)' } as const;

/**
 * A real-time member's payer error with what the payer said: the AAA code and its description (at most 200
 * characters), as the Stedi batch-API path's `AAA_<code>` errors carry it. The code stays PAYER_ERROR; without a
 * detail (an answer recorded by an older worker) the message is PAYER_ERROR's own.
 */
export function payerErrorMessage(detail: string | undefined): string {
  if (!detail) return PAYER_ERROR.message;
  return `the payer answered with an error: ${detail.slice(0, 200)} (cached for 5 minutes)`;
}

/** The detail of a cached payer-error answer: "AAA 72 Invalid/Missing Subscriber/Insured ID" (no member data). */
export function payerErrorDetail(errors: readonly { code: string; description: string | null }[]): string | undefined {
  const first = errors.find((e) => e.code || e.description);
  if (!first) return undefined;
  return [first.code ? `AAA ${first.code}` : '', first.description ?? ''].filter(Boolean).join(' ');
}

/** How a failed member reads in WatchBatchStatus's MEMBER_COMPLETED update: the code GetBatchStatus lists, then why. */
export function memberFailureText(code: string, message: string): string {
  return `${code}: ${message}`;
}

/**
 * Why a finished batch did not complete, as GetBatchStatus, the stream, Kafka and webhooks report it: the failure
 * the workflow recorded (an error, CANCELLED, TIMEOUT), else, for a batch that ended FAILED because no member
 * succeeded, ALL_MEMBERS_FAILED with the counts (issue 10: a FAILED batch must say why). Pure, bundle-safe.
 */
export function batchFailureOf(
  status: string,
  failure: { code: string; message: string } | undefined,
  counters: { failed: number; cancelled: number },
): { code: string; message: string } | undefined {
  if (failure) return failure;
  if (status !== 'FAILED') return undefined;
  const notRun = counters.cancelled > 0 ? `, ${counters.cancelled} not processed` : '';
  return { code: ALL_MEMBERS_FAILED, message: `no member succeeded: ${counters.failed} failed${notRun}; GetBatchStatus errors list each member's error` };
}

export const ALL_MEMBERS_FAILED = 'ALL_MEMBERS_FAILED';
