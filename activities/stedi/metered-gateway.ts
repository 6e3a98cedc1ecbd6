import type { Metrics } from '../../lib/metrics';
import { StediRequestError, type StediGateway } from './gateway';

/** `stedi_requests_total{api}` values of the batch API calls (lib/metrics.ts HELP, lib/metric-label-values.ts). */
export type StediBatchApi = 'batch_submit' | 'batch_poll' | 'batch_status';

export type OnStediBatchCall = (api: StediBatchApi, outcome: string, seconds: number) => void;

/**
 * The gateway with its batch API calls (submit, poll, batch status) counted and timed: `stedi_requests_total` said
 * it counts them but only the real-time path did (probe p16 #6), so batch 5xx/429s were invisible to it and to the
 * Stedi alerts. Outcome: `ok`, else the classification kind of the Stedi answer (`server`, `throttled`, `auth`, …,
 * the words the alert regexes match), `exception` for anything else (our own abort included). Real-time checks
 * pass through: the eligibility activity counts them with its slot and source context.
 */
export function meterStediBatchCalls(gateway: StediGateway, onCall: OnStediBatchCall, clock: () => number = performance.now.bind(performance)): StediGateway {
  async function metered<T>(api: StediBatchApi, run: () => Promise<T>): Promise<T> {
    const started = clock();
    try {
      const out = await run();
      onCall(api, 'ok', (clock() - started) / 1000);
      return out;
    } catch (err) {
      onCall(api, err instanceof StediRequestError ? err.classification.kind : 'exception', (clock() - started) / 1000);
      throw err;
    }
  }
  return {
    checkEligibility: (request, options) => gateway.checkEligibility(request, options),
    submitBatch: (request, options) => metered('batch_submit', () => gateway.submitBatch(request, options)),
    pollBatchResults: (params, options) => metered('batch_poll', () => gateway.pollBatchResults(params, options)),
    getBatch: (batchId, options) => metered('batch_status', () => gateway.getBatch(batchId, options)),
  };
}

/** The recorder the worker uses: the same series as the real-time path (`stedi_requests_total`, `stedi_request_duration_seconds`). */
export function stediBatchCallRecorder(metrics: Pick<Metrics, 'stediRequests' | 'stediDuration'>): OnStediBatchCall {
  return (api, outcome, seconds) => {
    metrics.stediRequests.inc({ api, outcome });
    metrics.stediDuration.observe({ api }, seconds);
  };
}
