import { compareBytes, EMPTY_WDRR_STATE, quantumForWeight, WDRR_COST, wdrrPick, wdrrSimulate, type WdrrState } from './wdrr';

const q = (id: string, weight: number, backlog = 1_000) => ({ id, quantum: quantumForWeight(weight), backlog });
const counts = (seq: readonly string[]) => seq.reduce<Record<string, number>>((acc, id) => ({ ...acc, [id]: (acc[id] ?? 0) + 1 }), {});

describe('wdrrPick', () => {
  it('returns no pick when no queue has waiters', () => {
    expect(wdrrPick([], EMPTY_WDRR_STATE).pick).toBeNull();
  });

  it.each([
    { name: 'equal weights alternate', queues: [q('a', 1), q('b', 1)], steps: 6, expected: ['a', 'b', 'a', 'b', 'a', 'b'] },
    { name: 'weight 2:1 serves two then one', queues: [q('a', 2), q('b', 1)], steps: 6, expected: ['a', 'a', 'b', 'a', 'a', 'b'] },
    { name: 'HIGH×1 (4) vs NORMAL×1 (2)', queues: [q('x', 4), q('y', 2)], steps: 6, expected: ['x', 'x', 'x', 'x', 'y', 'y'] },
    { name: 'fractional weight accumulates credit over rounds', queues: [q('a', 1), q('b', 0.5)], steps: 6, expected: ['a', 'a', 'b', 'a', 'a', 'b'] },
    { name: 'queue leaving the active set forfeits its turn', queues: [q('a', 1, 1), q('b', 1)], steps: 4, expected: ['a', 'b', 'b', 'b'] },
    { name: 'three queues 3:2:1', queues: [q('a', 3), q('b', 2), q('c', 1)], steps: 12, expected: ['a', 'a', 'a', 'b', 'b', 'c', 'a', 'a', 'a', 'b', 'b', 'c'] },
  ])('$name', ({ queues, steps, expected }) => {
    expect(wdrrSimulate(queues, steps).sequence).toEqual(expected);
  });

  it('gives each backlogged queue a share proportional to its weight over a long run', () => {
    const { sequence } = wdrrSimulate([q('batch:lab:NORMAL', 2 * 2, 10_000), q('batch:pharmacy:NORMAL', 1 * 2, 10_000), q('batch:care:LOW', 1, 10_000)], 7_000);
    expect(counts(sequence)).toEqual({ 'batch:lab:NORMAL': 4_000, 'batch:pharmacy:NORMAL': 2_000, 'batch:care:LOW': 1_000 });
  });

  it('drops the deficit of a queue that went idle, so idle time does not bank credit', () => {
    const state: WdrrState = { cursor: 'a', deficits: { a: 0, b: 5 * WDRR_COST } };
    const d = wdrrPick([{ id: 'a', quantum: WDRR_COST }], state);
    expect(d.pick).toBe('a');
    expect(d.state.deficits).toEqual({ a: 0 });
  });

  it('continues after the idle cursor queue in byte order rather than restarting', () => {
    const state: WdrrState = { cursor: 'b', deficits: {} };
    const d = wdrrPick([{ id: 'a', quantum: WDRR_COST }, { id: 'c', quantum: WDRR_COST }], state);
    expect(d.pick).toBe('c');
  });

  it('orders queue ids by bytes, not locale', () => {
    expect(compareBytes('Z', 'a')).toBeLessThan(0);
    expect(compareBytes('batch:a%20b', 'batch:a:HIGH')).toBeLessThan(0);
  });

  it('rejects non-positive weights and duplicate queues', () => {
    expect(() => quantumForWeight(0)).toThrow(RangeError);
    expect(() => wdrrPick([{ id: 'a', quantum: 1 }, { id: 'a', quantum: 1 }], EMPTY_WDRR_STATE)).toThrow(/duplicate/);
  });
});

describe('wdrrPick with awkward queue ids', () => {
  it('treats ids that look like Object.prototype members as ordinary queues', () => {
    expect(wdrrSimulate([q('toString', 1, 2), q('constructor', 1, 2)], 4).sequence).toEqual(['constructor', 'toString', 'constructor', 'toString']);
  });
});
