import { defineQuery, log, setDefaultSignalHandler, setHandler } from '@temporalio/workflow';

/**
 * Signals a workflow did not act on, so an operator can see them.
 *
 * Temporal accepts a signal whatever its name (`temporal workflow signal --name resumeBatchh` prints "Signal workflow
 * succeeded") and a workflow cannot refuse one: without a default handler the SDK keeps it buffered and nobody learns
 * it did nothing. Likewise a known signal with an argument of the wrong type (`pauseWarming {"by": 5}`) still pauses,
 * but cannot use that argument. Each such signal is logged (worker log, warn, with the workflow id and the names this
 * workflow does handle) and kept, newest last, for the `ignoredSignals` query.
 */
export interface IgnoredSignal {
  signal: string;
  /** Why nothing (or not everything) was done with it. */
  reason: string;
  at: string;
}

export const ignoredSignalsQuery = defineQuery<IgnoredSignal[]>('ignoredSignals');

/** Kept in workflow memory: a query answers it, no history events. A run after continue-as-new starts empty. */
const KEPT = 20;

export interface IgnoredSignals {
  /** Note a known signal whose argument could not be used (the signal itself was acted on). */
  badArgument(signal: string, field: string, problem: string): void;
  /**
   * Install the default signal handler: call it after every `setHandler` of the workflow's signals (a default handler
   * also takes a signal whose own handler is registered after it).
   */
  watchUnknown(handledSignals: readonly string[]): void;
}

/** Create before the signal handlers (a buffered signal runs its handler inside `setHandler`). */
export function ignoredSignals(workflow: string): IgnoredSignals {
  const kept: IgnoredSignal[] = [];
  let handled = 'none';
  const note = (signal: string, reason: string) => {
    const entry = { signal: signal.slice(0, 100), reason, at: new Date().toISOString() };
    kept.push(entry);
    if (kept.length > KEPT) kept.splice(0, kept.length - KEPT);
    log.warn(`signal ${JSON.stringify(entry.signal)} ignored: ${reason}`, { workflow, signal: entry.signal, handledSignals: handled });
  };
  setHandler(ignoredSignalsQuery, () => kept.map((e) => ({ ...e })));
  return {
    badArgument: (signal, field, problem) => note(signal, `${field}: ${problem}; the signal was applied without it`),
    watchUnknown: (handledSignals) => {
      handled = handledSignals.length > 0 ? handledSignals.join(', ') : 'none';
      setDefaultSignalHandler((signalName: string) => note(signalName, `${workflow} has no signal by that name (it handles: ${handled})`));
    },
  };
}

/** A signal's optional string argument (`by`, `reason`): its trimmed value, or undefined with the problem noted. */
export function optionalStringArg(ignored: IgnoredSignals, signal: string, args: unknown, field: string, max: number): string | undefined {
  if (args === undefined || args === null) return undefined;
  if (typeof args !== 'object' || Array.isArray(args)) {
    ignored.badArgument(signal, 'argument', `expected an object like {"${field}": "…"}, got ${Array.isArray(args) ? 'an array' : typeof args}`);
    return undefined;
  }
  for (const key of Object.keys(args)) if (key !== field) ignored.badArgument(signal, key, `unknown field (this signal takes only "${field}")`);
  const value = (args as Record<string, unknown>)[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    ignored.badArgument(signal, field, `expected a string, got ${typeof value}`);
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed.length > max) ignored.badArgument(signal, field, `longer than ${max} characters; kept its first ${max}`);
  return trimmed ? trimmed.slice(0, max) : undefined;
}
