import { eventPassesFilter } from './events';
import type { BatchEventName } from './types';

describe('webhook event_types filter (probe batch #2)', () => {
  test.each([
    // [event, filter, exact match (old batches), terminal-as-one (new batches)]
    ['CANCELLED', ['STARTED', 'COMPLETED', 'FAILED'], false, true],
    ['PARTIALLY_COMPLETED', ['STARTED', 'COMPLETED', 'FAILED'], false, true],
    ['COMPLETED', ['CANCELLED'], false, true],
    ['CANCELLED', ['STARTED', 'PROGRESS'], false, false],
    ['PROGRESS', ['COMPLETED'], false, false],
    ['STARTED', ['COMPLETED'], false, false],
    ['FAILED', ['FAILED'], true, true],
    ['PROGRESS', [], true, true],
  ] as [BatchEventName, BatchEventName[], boolean, boolean][])('%s through %j: exact %s, terminal as one %s', (event, filter, exact, terminalAsOne) => {
    expect(eventPassesFilter(event, filter)).toBe(exact);
    expect(eventPassesFilter(event, filter, { terminalAsOne: true })).toBe(terminalAsOne);
  });
});
