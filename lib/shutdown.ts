import type { Logger } from 'pino';

/**
 * Runs `drain` once on SIGTERM/SIGINT, then exits. A second signal, or the grace period running out,
 * forces exit with code 1 so an orchestrator's kill never hangs on a stuck dependency.
 */
export function onShutdownSignal(logger: Logger, graceMs: number, drain: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs }, 'shutdown: draining');
    const force = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown: grace period exceeded, exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    drain(signal)
      .then(() => {
        logger.info('shutdown: complete');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown: drain failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
