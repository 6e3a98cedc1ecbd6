import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { BatchEligibilityService } from '../../gen/rte/v1/batch_pb';

const notYet = (method: string) => new ConnectError(`${method} is not implemented yet (batch workflows land with issue #5)`, Code.Unimplemented);

/**
 * Placeholder until the batch workflow lands: every RPC answers `unimplemented`, after authentication
 * and scope checks, so clients can already integrate against the contract.
 */
export function createBatchService(): ServiceImpl<typeof BatchEligibilityService> {
  return {
    submitBatch() {
      throw notYet('SubmitBatch');
    },
    getBatchStatus() {
      throw notYet('GetBatchStatus');
    },
    listBatches() {
      throw notYet('ListBatches');
    },
    cancelBatch() {
      throw notYet('CancelBatch');
    },
    // eslint-disable-next-line require-yield
    async *watchBatchStatus() {
      throw notYet('WatchBatchStatus');
    },
  };
}
