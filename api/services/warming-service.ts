import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { CacheWarmingService } from '../../gen/rte/v1/warming_pb';

const notYet = (method: string) => new ConnectError(`${method} is not implemented yet (cache warming is not built yet)`, Code.Unimplemented);

/** Placeholder until cache warming lands: authenticated, scoped, and `unimplemented`. */
export function createWarmingService(): ServiceImpl<typeof CacheWarmingService> {
  return {
    warmCache() {
      throw notYet('WarmCache');
    },
    scheduleWarming() {
      throw notYet('ScheduleWarming');
    },
    getWarmingStats() {
      throw notYet('GetWarmingStats');
    },
  };
}
