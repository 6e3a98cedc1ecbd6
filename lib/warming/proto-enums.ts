import { WarmCacheRequest_Priority, WarmingStrategy } from '../../gen/rte/v1/warming_pb';
import type { WarmingPriority, WarmingStrategyName } from './types';

/** A warming strategy's name as the proto enum (events, GetWarmingJob). */
export const WARMING_STRATEGY_PROTO: Record<WarmingStrategyName, WarmingStrategy> = {
  INTELLIGENT: WarmingStrategy.INTELLIGENT,
  FORCE: WarmingStrategy.FORCE,
  FILL_ONLY: WarmingStrategy.FILL_ONLY,
};

/** A warming priority's name as the proto enum (events, GetWarmingJob). */
export const WARMING_PRIORITY_PROTO: Record<WarmingPriority, WarmCacheRequest_Priority> = {
  URGENT: WarmCacheRequest_Priority.URGENT,
  PRELOAD: WarmCacheRequest_Priority.PRELOAD,
  BACKGROUND: WarmCacheRequest_Priority.BACKGROUND,
};
