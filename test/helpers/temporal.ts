import type { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { loadConfig } from '../../lib/config';
import { connectTemporalClient, temporalDataConverter } from '../../lib/temporal/connect';

/**
 * Integration tests attach to the dev stack's Temporal server (started by `stack/stack up --infra`),
 * never to an in-memory stand-in. Each test gets its own task queue and workflow ids.
 */
let bundle: Promise<{ code: string }> | undefined;
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'), logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (m: string) => console.error(m),
};

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TemporalTestContext {
  client: Client;
  nativeConnection: NativeConnection;
  connection: Connection;
  namespace: string;
  close(): Promise<void>;
}

export async function connectTemporal(): Promise<TemporalTestContext> {
  const config = loadConfig();
  const { connection, client } = await connectTemporalClient(config);
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  return {
    client,
    connection,
    nativeConnection,
    namespace: config.temporal.namespace,
    close: async () => {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export async function createTestWorker(
  ctx: TemporalTestContext,
  opts: Pick<WorkerOptions, 'activities'> & { taskQueue: string },
): Promise<Worker> {
  return Worker.create({
    connection: ctx.nativeConnection,
    namespace: ctx.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    dataConverter: temporalDataConverter(loadConfig()),
    activities: opts.activities,
  });
}
