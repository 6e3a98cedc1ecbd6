import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from '../config';
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

export async function connectTemporalClient(config: Pick<AppConfig, 'temporal' | 'codec'>): Promise<TemporalClientHandle> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: temporalDataConverter(config) });
  return { connection, client };
}
