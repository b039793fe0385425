import { describe, expect, it } from 'vitest';
import { bootstrapInterval, percentile } from '../../../bench/stats';

const medianRatio = (ours: number[], baseline: number[]) => percentile(baseline, 50) / percentile(ours, 50);
/** Deterministic spread around a centre, so the tests do not depend on Math.random. */
const spread = (centre: number, n: number) => Array.from({ length: n }, (_, i) => centre + ((i * 7) % 11) - 5);

describe('bootstrapInterval', () => {
  it('brackets the ratio and excludes 1 when one side is clearly faster', () => {
    const ours = spread(20, 60);
    const baseline = spread(30, 60);
    const [low, high] = bootstrapInterval(ours, baseline, medianRatio);
    expect(low).toBeLessThanOrEqual(medianRatio(ours, baseline));
    expect(high).toBeGreaterThanOrEqual(medianRatio(ours, baseline));
    expect(low).toBeGreaterThan(1);
  });

  it('includes 1 when both sides come from the same distribution', () => {
    const ours = spread(25, 60);
    const baseline = [...ours].reverse();
    const [low, high] = bootstrapInterval(ours, baseline, medianRatio);
    expect(low).toBeLessThan(1);
    expect(high).toBeGreaterThan(1);
  });

  it('is the same interval every time for the same samples (seeded)', () => {
    const ours = spread(22, 30);
    const baseline = spread(24, 30);
    expect(bootstrapInterval(ours, baseline, medianRatio)).toEqual(bootstrapInterval(ours, baseline, medianRatio));
  });

  it('refuses unpaired samples', () => {
    expect(() => bootstrapInterval([1, 2], [1], medianRatio)).toThrow(/paired/);
  });
});
