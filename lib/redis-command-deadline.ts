import type { Redis } from 'ioredis';

interface WaitingCommand {
  command: { isResolved: boolean; reject: (err: Error) => void };
}
/** ioredis's command queues (denque). */
interface CommandQueue {
  length: number;
  peekAt(index: number): WaitingCommand | undefined;
}
interface ClientQueues {
  /** Sent, waiting for their replies. */
  commandQueue?: CommandQueue;
  /** Waiting for the connection (connecting, reconnecting). */
  offlineQueue?: CommandQueue;
  /** Were in flight when the connection closed; resent once it is back. */
  prevCommandQueue?: CommandQueue | null;
}

function isQueue(q: unknown): q is CommandQueue {
  return typeof q === 'object' && q !== null && typeof (q as CommandQueue).peekAt === 'function' && typeof (q as CommandQueue).length === 'number';
}

/**
 * Issue 14: the same bound as ioredis's `commandTimeout` (a command left unanswered that long fails with "Command
 * timed out", which the API answers `unavailable`), without a timer per command. ioredis arms a 2 s `setTimeout` for
 * every command and clears it on the reply (deleting a property, which also turns each command object into a slow
 * dictionary); under load that was ~10 % of the API's CPU per cache read. Here one interval per connection looks at
 * the commands still waiting (sent and unanswered, queued while connecting, or kept for resending after a reconnect),
 * notes when it first saw each, and fails those it has seen waiting for `timeoutMs`: a command fails between
 * `timeoutMs` and `timeoutMs + tickMs` after it was sent. A command answered before the next tick costs nothing.
 *
 * Hand-written because ioredis offers no cheaper deadline; it reads ioredis's queues, so it refuses to start (throws)
 * if they are not where ioredis 5 keeps them, rather than leave commands unbounded. For a single connection only: a
 * Cluster keeps `commandTimeout`. Returns a function that stops it (also stopped when the client ends).
 */
export function enforceCommandDeadline(redis: Redis, timeoutMs: number, tickMs = 100): () => void {
  const queues = redis as unknown as ClientQueues;
  if (!isQueue(queues.commandQueue) || !isQueue(queues.offlineQueue)) {
    throw new Error('enforceCommandDeadline: this ioredis keeps its command queues elsewhere; use commandTimeout');
  }
  if (typeof redis.options.commandTimeout === 'number') {
    throw new Error('enforceCommandDeadline: the client already has a commandTimeout');
  }
  const firstSeen = new WeakMap<object, number>();
  const TIMED_OUT = -1;
  const sweep = (queue: CommandQueue | null | undefined, now: number): void => {
    if (!isQueue(queue)) return;
    for (let i = 0; i < queue.length; i++) {
      const command = queue.peekAt(i)?.command;
      if (!command || command.isResolved) continue;
      const seen = firstSeen.get(command);
      if (seen === undefined) firstSeen.set(command, now);
      else if (seen !== TIMED_OUT && now - seen >= timeoutMs) {
        firstSeen.set(command, TIMED_OUT);
        // ioredis's own timeout error, so callers (lib/infra-retry.ts) classify it the same way.
        command.reject(new Error('Command timed out'));
      }
    }
  };
  const timer = setInterval(() => {
    const now = performance.now();
    sweep(queues.commandQueue, now);
    sweep(queues.offlineQueue, now);
    sweep(queues.prevCommandQueue, now);
  }, tickMs);
  timer.unref();
  const stop = (): void => clearInterval(timer);
  redis.once('end', stop);
  return stop;
}
