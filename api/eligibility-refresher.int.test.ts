/**
 * The API waits for a live check at most API_REFRESH_WAIT_MS (or until the caller goes away). When it stops waiting,
 * the long-poll for the refresh workflow's result must end too: before, it stayed open on the Temporal connection
 * until the run finished (up to its 30-minute timeout), one open call per abandoned check.
 */
import { hashMemberId } from '../lib/member-hash';
import { eligibilityRefreshWorkflowId } from '../workflows/eligibility-refresh.defs';
import { createTemporalRefresher } from './eligibility-refresher';
import { connectTemporal, uniqueName, type TemporalTestContext } from '../test/helpers/temporal';

describe('the API stops the result long-poll of a live check it no longer waits for (integration, real Temporal)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('aborting the wait rejects refresh() at once, while the refresh run itself goes on', async () => {
    // A task queue no worker polls: the run never ends, so only the abort can end the wait.
    const taskQueue = uniqueName('refresher-abort');
    const refresher = createTemporalRefresher(ctx.client, taskQueue, 'secret');
    const memberId = uniqueName('MBR');
    const stop = new AbortController();
    const waiting = refresher.refresh(
      { memberId, operation: 'check_eligibility', requester: { kind: 'interactive' }, source: 'realtime', satisfiedByFetchAfter: Date.now() },
      stop.signal,
    );
    let settled: 'pending' | 'resolved' | 'rejected' = 'pending';
    waiting.then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    // Long enough for the start and the first long-poll to be on the wire.
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled).toBe('pending');
    const abortedAt = Date.now();
    stop.abort();
    const deadline = Date.now() + 5000;
    while (settled === 'pending' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe('rejected');
    expect(Date.now() - abortedAt).toBeLessThan(5000);

    // The run was not touched: only the caller's wait ended.
    const handle = ctx.client.workflow.getHandle(eligibilityRefreshWorkflowId(hashMemberId('secret', memberId), 'check_eligibility'));
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test cleanup');
  });
});
