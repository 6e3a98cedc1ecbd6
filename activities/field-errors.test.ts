import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, FieldError, NON_RETRYABLE_ERROR_TYPES } from '../lib/errors';
import { PredicateError } from '../directory/predicate/parser';
import { withNonRetryableFieldErrors } from './field-errors';

describe('activities: a directory/validation FieldError is a non-retryable InvalidArgumentError', () => {
  test('FieldError and PredicateError become non-retryable ApplicationFailures keeping field path and message; others pass through', async () => {
    const acts = withNonRetryableFieldErrors({
      field: async () => {
        throw new FieldError('member_query.demographics_filter.min_age', 'must not be greater than max_age');
      },
      predicate: async () => {
        throw new PredicateError('member_query.predicate_filter.expression', 'unexpected token', 4);
      },
      other: async () => {
        throw new Error('connection reset');
      },
      ok: async (x: number) => x + 1,
    });
    for (const [name, path] of [
      ['field', 'member_query.demographics_filter.min_age'],
      ['predicate', 'member_query.predicate_filter.expression'],
    ] as const) {
      const err = await acts[name]().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      const f = err as ApplicationFailure;
      expect(f.nonRetryable).toBe(true);
      expect(f.type).toBe(ErrorType.InvalidArgument);
      expect(NON_RETRYABLE_ERROR_TYPES).toContain(f.type);
      expect(f.message).toContain(path);
    }
    await expect(acts.other()).rejects.toThrow('connection reset');
    expect(await acts.ok(1 as never)).toBe(2);
  });
});
