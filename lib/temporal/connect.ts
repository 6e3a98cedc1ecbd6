import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from '../config';
import { boundedCallInterceptors, type BoundedCallOptions } from './bounded-calls';
import { releaseCallContextWhenIdle } from './call-context';
import { EncryptionCodec } from './codec';

/**
 * The one place that decides how the platform talks to Temporal: every client (API, CLI, scripts, tests, benches)
 * and every worker takes its data converter from here, so no payload reaches Temporal unencrypted.
 */
export function temporalDataConverter(config: Pick<AppConfig, 'codec'>): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(config.codec.keys)] };
}

export interface TemporalClientHandle {
  connection: Connection;
  client: Client;
}

/**
 * `bounded`: call deadlines and a small retry budget for clients that answer people (the API; lib/temporal/
 * bounded-calls.ts), so a Temporal outage is answered within seconds. Workers and scripts keep the SDK defaults.
 */
export async function connectTemporalClient(config: Pick<AppConfig, 'temporal' | 'codec'>, opts: { bounded?: BoundedCallOptions } = {}): Promise<TemporalClientHandle> {
  const connection = await Connection.connect({ address: config.temporal.address, ...(opts.bounded ? { interceptors: boundedCallInterceptors(opts.bounded) } : {}) });
  // Issue 14: Node's promise hooks only while a Temporal call is in progress, not for every promise of the process.
  releaseCallContextWhenIdle(connection);
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: temporalDataConverter(config) });
  return { connection, client };
}
