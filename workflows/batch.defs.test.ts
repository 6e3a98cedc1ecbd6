import { validateCancelBatchArgs, validateNoArgs, cancelBatchUpdate, cancelBatchSignal, legacyCancelBatchUpdate } from './batch.defs';

describe('batch update validators (reject bad arguments before they enter history)', () => {
  it('cancel accepts no arguments or { reason: string } and refuses anything else naming the field', () => {
    expect(() => validateCancelBatchArgs(undefined)).not.toThrow();
    expect(() => validateCancelBatchArgs({})).not.toThrow();
    expect(() => validateCancelBatchArgs({ reason: 'client asked' })).not.toThrow();
    expect(() => validateCancelBatchArgs({ reason: 42 } as never)).toThrow(/reason: expected a string/);
    expect(() => validateCancelBatchArgs({ reason: 'x'.repeat(501) })).toThrow(/reason: at most 500/);
    expect(() => validateCancelBatchArgs({ why: 'x' } as never)).toThrow(/unknown field why/);
    expect(() => validateCancelBatchArgs('stop' as never)).toThrow(/expected an object/);
    // Refused arguments are refused again on a retry: the failure says so (not retryable) to the CLI and Web UI.
    const refusal = (() => {
      try {
        validateCancelBatchArgs({ reason: 42 } as never);
      } catch (err) {
        return err as { nonRetryable?: boolean; type?: string };
      }
      return undefined;
    })();
    expect(refusal).toMatchObject({ nonRetryable: true, type: 'InvalidArgument' });
  });

  it('batchAccepted takes no arguments', () => {
    expect(() => validateNoArgs()).not.toThrow();
    expect(() => validateNoArgs({ x: 1 })).toThrow(/no arguments/);
  });

  it('the cancel update no longer shares its name with the signal; the old update name stays accepted', () => {
    expect(cancelBatchSignal.name).toBe('cancelBatch');
    expect(cancelBatchUpdate.name).toBe('cancelBatchAndWait');
    expect(legacyCancelBatchUpdate.name).toBe('cancelBatch');
  });
});
