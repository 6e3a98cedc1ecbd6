export type * from './ports';
export { RedisPredictionOutcomeStore, type RedisPredictionOutcomeStoreOptions } from './redis-prediction-outcome-store';
export { InMemoryPredictionOutcomeStore } from './in-memory-prediction-outcome-store';
export { ACCURACY_METRIC, createPredictionUsageObserver, registerPredictionAccuracyMetrics, type PredictionUsageObserver, type UsageCoalescing } from './metrics';
