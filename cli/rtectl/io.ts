import { Writable } from 'node:stream';

/** Where rtectl writes and how it hears Ctrl-C; the real process's, or a capture in tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** The stream the progress bar draws on (stderr). */
  stderrStream: NodeJS.WritableStream;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Calls `fn` on SIGINT while registered; returns the unregister function. */
  onInterrupt(fn: () => void): () => void;
}

export function processIo(): CliIo {
  return {
    out: (l) => void process.stdout.write(`${l}\n`),
    err: (l) => void process.stderr.write(`${l}\n`),
    stderrStream: process.stderr,
    isTTY: !!process.stderr.isTTY,
    env: process.env,
    onInterrupt: (fn) => {
      process.on('SIGINT', fn);
      return () => void process.off('SIGINT', fn);
    },
  };
}

/** An in-memory io for tests: lines captured, no TTY, Ctrl-C by calling `interrupt()`. */
export function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & { stdout: string[]; stderr: string[]; interrupt(): void } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const handlers = new Set<() => void>();
  return {
    stdout,
    stderr,
    out: (l) => void stdout.push(l),
    err: (l) => void stderr.push(l),
    stderrStream: new Writable({ write: (_c, _e, cb) => cb() }),
    isTTY: false,
    env,
    onInterrupt: (fn) => {
      handlers.add(fn);
      return () => void handlers.delete(fn);
    },
    interrupt: () => handlers.forEach((h) => h()),
  };
}
