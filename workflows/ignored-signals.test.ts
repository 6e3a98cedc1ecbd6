import { optionalStringArg, type IgnoredSignals } from './ignored-signals';

/** The argument rules of pauseBatch / pauseWarming / pauseMemberCron `by` and cancelBatch `reason`. */
function recorder() {
  const notes: string[] = [];
  const r: IgnoredSignals = { badArgument: (signal, field, problem) => notes.push(`${signal} ${field}: ${problem}`), watchUnknown: () => undefined };
  return { r, notes };
}

describe('optionalStringArg', () => {
  it('takes a trimmed string and notes nothing', () => {
    const { r, notes } = recorder();
    expect(optionalStringArg(r, 'pauseBatch', { by: '  ops-oncall ' }, 'by', 100)).toBe('ops-oncall');
    expect(optionalStringArg(r, 'pauseBatch', undefined, 'by', 100)).toBeUndefined();
    expect(optionalStringArg(r, 'pauseBatch', {}, 'by', 100)).toBeUndefined();
    expect(optionalStringArg(r, 'pauseBatch', { by: '   ' }, 'by', 100)).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it('notes a wrong type, an unknown field, a non-object argument and a cut value', () => {
    const { r, notes } = recorder();
    expect(optionalStringArg(r, 'pauseWarming', { by: 5 }, 'by', 100)).toBeUndefined();
    expect(optionalStringArg(r, 'pauseBatch', { by: 'ops', reson: 'x' }, 'by', 100)).toBe('ops');
    expect(optionalStringArg(r, 'cancelBatch', 'stop', 'reason', 500)).toBeUndefined();
    expect(optionalStringArg(r, 'cancelBatch', ['a'], 'reason', 500)).toBeUndefined();
    expect(optionalStringArg(r, 'pauseBatch', { by: 'x'.repeat(120) }, 'by', 100)).toBe('x'.repeat(100));
    expect(notes).toEqual([
      'pauseWarming by: expected a string, got number',
      'pauseBatch reson: unknown field (this signal takes only "by")',
      'cancelBatch argument: expected an object like {"reason": "…"}, got string',
      'cancelBatch argument: expected an object like {"reason": "…"}, got an array',
      'pauseBatch by: longer than 100 characters; kept its first 100',
    ]);
  });
});
