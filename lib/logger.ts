import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout. Member ids never appear raw: log `memberHash` (see lib/member-hash.ts). */
export function createLogger(name: string, level: string = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['memberId', 'member_id', '*.memberId', '*.member_id', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
