import { createLogger } from '../lib/logger';
import { createStediSim } from './server';

/**
 * Process entry of the Stedi simulator: `npx tsx stedi-sim/main.ts`. Configuration by environment only (see
 * stedi-sim/README.md); invalid values fail fast at startup.
 */
function num(name: string, dflt: number, check: (n: number) => boolean = (n) => n >= 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`${name}: invalid value '${raw}'`);
  return n;
}

async function main(): Promise<void> {
  const log = createLogger('stedi-sim');
  const port = num('STEDI_SIM_PORT', 8090, (n) => Number.isInteger(n) && n >= 0 && n < 65536);
  const host = process.env['STEDI_SIM_HOST'] ?? '127.0.0.1';
  const apiKeys = (process.env['STEDI_SIM_API_KEYS'] ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0);
  const unknownPayers = process.env['STEDI_SIM_UNKNOWN_PAYERS'];
  const sim = createStediSim({
    concurrency: num('STEDI_SIM_CONCURRENCY', 15, (n) => Number.isInteger(n) && n >= 1),
    latency: {
      meanMs: num('STEDI_SIM_LATENCY_MEAN_MS', 13_500, (n) => n > 0),
      sigma: num('STEDI_SIM_LATENCY_SIGMA', 0.5),
      minMs: num('STEDI_SIM_LATENCY_MIN_MS', 300),
      maxMs: num('STEDI_SIM_LATENCY_MAX_MS', 120_000, (n) => n > 0),
    },
    timeScale: num('STEDI_SIM_TIME_SCALE', 1),
    batchDurationMs: num('STEDI_SIM_BATCH_DURATION_MS', 120_000),
    payerTimeoutMs: num('STEDI_SIM_PAYER_TIMEOUT_MS', 60_000, (n) => n > 0),
    apiKeys,
    ...(unknownPayers !== undefined ? { unknownPayerIds: unknownPayers.split(',').map((p) => p.trim()).filter(Boolean) } : {}),
    seed: num('STEDI_SIM_SEED', 1, (n) => Number.isInteger(n)),
    logger: log,
  });
  const { url } = await sim.start(port, host);
  log.info({ url, apiKeysConfigured: apiKeys.length }, 'stedi-sim ready');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stedi-sim stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    sim.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stedi-sim stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  createLogger('stedi-sim').fatal({ err }, 'stedi-sim failed to start');
  process.exit(1);
});
