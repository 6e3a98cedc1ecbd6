import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { freePort } from './own-redis';
import { sigkillAndWait } from './kill-process';

/**
 * A throwaway Temporal dev server for fault tests (never the shared stack's): started like `stack/stack` starts
 * its own (`temporal server start-dev` with the stack's search attributes, a --db-filename, --ip 127.0.0.1) on free
 * ports and a temp db file, so a test can kill -9 it and restart it with the same command against the same db.
 */
export interface OwnTemporal {
  readonly address: string;
  kill(): Promise<void>;
  /** Starts it again with the same args (same db file); resolves once the frontend answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const REPO = resolve(__dirname, '../..');

function cli(): string {
  for (const c of [process.env['TEMPORAL_CLI'], join(REPO, '.stack/bin/temporal'), '/work/main/.stack/bin/temporal']) {
    if (c) {
      try {
        accessSync(c, constants.X_OK);
        return c;
      } catch {
        // next
      }
    }
  }
  return 'temporal';
}

export async function startOwnTemporal(): Promise<OwnTemporal> {
  const port = await freePort();
  const uiPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rte-own-temporal-'));
  const sas = readFileSync(join(REPO, 'stack/search-attributes.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = ['server', 'start-dev', '--db-filename', join(dir, 'temporal.db'), '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--headless', '--log-level', 'error'];
  for (const sa of sas) args.push('--search-attribute', sa);
  const address = `127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;

  async function start(): Promise<void> {
    proc = spawn(cli(), args, { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        const c = await Connection.connect({ address, connectTimeout: 1_000 });
        try {
          await c.withDeadline(Date.now() + 1_000, () => c.workflowService.getSystemInfo({}));
          // The default namespace exists once a describe answers.
          await c.withDeadline(Date.now() + 1_000, () => c.workflowService.describeNamespace({ namespace: 'default' }));
          return;
        } finally {
          await c.close();
        }
      } catch {
        await sleep(250);
      }
    }
    throw new Error(`own temporal dev server on ${address} did not start`);
  }

  async function kill(): Promise<void> {
    const p = proc;
    proc = undefined;
    await sigkillAndWait(p);
  }

  await start();
  return {
    address,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
