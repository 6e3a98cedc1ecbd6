/** The error a batch member gets when the payer answered with an error (the cached payer-error verdict). */
export const PAYER_ERROR = { code: 'PAYER_ERROR', message: 'the payer answered with an error (cached for 5 minutes)' } as const;

/** How a failed member reads in WatchBatchStatus's MEMBER_COMPLETED update: the code GetBatchStatus lists, then why. */
export function memberFailureText(code: string, message: string): string {
  return `${code}: ${message}`;
}
