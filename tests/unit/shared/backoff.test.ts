import { describe, expect, it } from 'vitest';

import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../../../src-renderer/engine/backoff';

const policy: BackoffPolicy = { baseMs: 100, maxMs: 5_000 };
const low = () => 0;
const high = () => 1;

describe('backoffDelay', () => {
  it('doubles the delay with each attempt', () => {
    // With random = 1 the delay is the full (capped) exponential value.
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, high))).toEqual([100, 200, 400, 800, 1600]);
  });

  it('is capped at maxMs however many attempts have failed', () => {
    expect(backoffDelay(7, policy, high)).toBe(5_000); // 100 × 2⁶ = 6400 > cap
    expect(backoffDelay(50, policy, high)).toBe(5_000);
    expect(backoffDelay(2_000, policy, high)).toBe(5_000); // 2 ** 1999 is Infinity: still capped
    expect(backoffDelay(2_000, policy, low)).toBe(2_500);
  });

  it('jitter keeps every delay within [cap/2, cap]', () => {
    for (const attempt of [1, 3, 6, 7, 20]) {
      const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      expect(backoffDelay(attempt, policy, low)).toBe(cap / 2);
      expect(backoffDelay(attempt, policy, high)).toBe(cap);
      const mid = backoffDelay(attempt, policy, () => 0.5);
      expect(mid).toBeGreaterThanOrEqual(cap / 2);
      expect(mid).toBeLessThanOrEqual(cap);
    }
  });

  it('never retries immediately, even on the first attempt', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, low)).toBe(DEFAULT_BACKOFF.baseMs / 2);
    expect(backoffDelay(0, DEFAULT_BACKOFF, low)).toBeGreaterThan(0);
  });

  it('uses the default policy (0.5 s growing to 30 s) when none is given', () => {
    expect(backoffDelay(1, undefined, high)).toBe(500);
    expect(backoffDelay(20, undefined, high)).toBe(30_000);
    const d = backoffDelay(3);
    expect(d).toBeGreaterThanOrEqual(1_000);
    expect(d).toBeLessThanOrEqual(2_000);
  });
});
