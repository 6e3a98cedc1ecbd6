/**
 * Saves a workflow's history for the replay test: `npx tsx scripts/save-history.ts <workflow-id> <name>`
 * writes test/histories/<name>.bin (binary temporal.api.history.v1.History, compact and stable).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectTemporalClient } from '../lib/temporal/connect';
import { temporal } from '@temporalio/proto';
import { loadConfig } from '../lib/config';

async function main(): Promise<void> {
  const [workflowId, name] = process.argv.slice(2);
  if (!workflowId || !name) throw new Error('usage: save-history.ts <workflow-id> <name>');
  const config = loadConfig();
  // Saved as stored (encrypted payloads): the replay test decodes them with the same data converter.
  const { connection, client } = await connectTemporalClient(config);
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const bytes = temporal.api.history.v1.History.encode(history).finish();
    const file = path.resolve(__dirname, '../test/histories', `${name}.bin`);
    writeFileSync(file, bytes);
    console.log(`${file}: ${history.events?.length ?? 0} events, ${bytes.length} bytes`);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
