import type { ChildProcess } from 'node:child_process';

/** kill -9 a server a fault test started, and wait until it has exited (no-op if it is not running). */
export async function sigkillAndWait(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await exited;
}
