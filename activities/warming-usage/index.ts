export type * from './ports';
export { createPgWarmingStatsReader, createPgWarmUsageStore, MAX_HORIZON_MS, WARMS_IN_RANGE_SQL } from './pg-warming-records';
export { createWarmUsageRecorder, isWarmedRead, type InteractiveRead, type WarmUsageRecorder, type WarmUsageRecorderOptions } from './recorder';
