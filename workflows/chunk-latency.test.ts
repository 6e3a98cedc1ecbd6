import type { ChunkMemberOutcome } from '../activities/eligibility/realtime-chunk';
import { CHUNK_SLOW_MEMBER_MS, chunkMembersSlow, medianMemberMs } from './chunk-latency';

const o = (ms: number, r: ChunkMemberOutcome['r'] = 'ok', i = 0): ChunkMemberOutcome => ({ i, r, ms });

describe('chunk member latency (chunk or one activity per member)', () => {
  it('quick members (a cache-heavy or low-latency batch) keep chunks', () => {
    expect(chunkMembersSlow([o(3), o(40), o(12), o(2_500)])).toBe(false);
  });

  it('members at Stedi latency switch the run to one activity per member', () => {
    expect(chunkMembersSlow([o(13_200), o(9_800), o(15_100), o(40)])).toBe(true);
    expect(chunkMembersSlow([o(CHUNK_SLOW_MEMBER_MS)])).toBe(true);
    expect(chunkMembersSlow([o(CHUNK_SLOW_MEMBER_MS - 1)])).toBe(false);
  });

  it('failed and retried members count (they held a slot), cancelled ones do not', () => {
    expect(chunkMembersSlow([o(14_000, 'retry'), o(13_000, 'failed'), o(5, 'cancelled'), o(6, 'cancelled'), o(7, 'cancelled')])).toBe(true);
    expect(medianMemberMs([o(5, 'cancelled')])).toBeUndefined();
    expect(chunkMembersSlow([])).toBe(false);
  });

  it('the median is the lower middle of an even count', () => {
    expect(medianMemberMs([o(1), o(100), o(10), o(1_000)])).toBe(10);
  });
});
