import { describe, expect, it } from 'vitest';

import { DEFAULT_RELAY_BUDGET, PAIR_IDLE_MS, RelayAccounting, USAGE_INTERVAL_MS, type RelayBudget, type RelayUsage } from '../../../src-main/registry/relay-accounting';

// ---------------------------------------------------------------- harness

/** A clock the test moves by hand. */
class Clock {
  constructor(public t = Date.UTC(2025, 0, 15, 12, 0, 0)) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

const ADA = 'a'.repeat(26);
const BOB = 'b'.repeat(26);
const CAT = 'c'.repeat(26);
const DAN = 'd'.repeat(26);

function accounting(budget: Partial<RelayBudget> = {}, clock = new Clock()) {
  const full: RelayBudget = { pairBytesPerSecond: 1000, projectBytesPerSecond: 1_000_000, projectBytesPerDay: 1_000_000, ...budget };
  return { clock, relay: new RelayAccounting(full, clock.now), budget: full };
}

type Charge = ReturnType<RelayAccounting['charge']>;

function expectAllowed(result: Charge): RelayUsage | undefined {
  expect(result).toMatchObject({ ok: true });
  return result.ok ? result.report : undefined;
}

function expectRefused(result: Charge): string {
  expect(result.ok).toBe(false);
  return result.ok ? '' : result.reason;
}

// ---------------------------------------------------------------- pair budget

describe('RelayAccounting pair budget', () => {
  it('the default budget is 2 MiB/s per pair, 8 MiB/s per project and 20 GiB per project per day', () => {
    expect(DEFAULT_RELAY_BUDGET).toEqual({ pairBytesPerSecond: 2 * 1024 * 1024, projectBytesPerSecond: 8 * 1024 * 1024, projectBytesPerDay: 20 * 1024 ** 3 });
    expect(new RelayAccounting().budget).toEqual(DEFAULT_RELAY_BUDGET);
  });

  it('a→b and b→a share one counter', () => {
    const { relay, clock } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 1500));
    // The bucket holds 2 s worth (2000 bytes): 500 are left for the pair, whichever way.
    expect(relay.charge('p', BOB, ADA, 600).ok).toBe(false);
    expectAllowed(relay.charge('p', BOB, ADA, 500));
    expect(relay.charge('p', ADA, BOB, 1).ok).toBe(false);
    // The byte count is the pair's, too.
    clock.advance(USAGE_INTERVAL_MS);
    const report = expectAllowed(relay.charge('p', BOB, ADA, 0));
    expect(report?.pairBytes).toBe(2000);
  });

  it('other pairs have their own budget', () => {
    const { relay } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
    expect(relay.charge('p', ADA, BOB, 1).ok).toBe(false);
    expectAllowed(relay.charge('p', ADA, CAT, 2000));
    expectAllowed(relay.charge('p', CAT, BOB, 2000));
    // The same two consoles in another project are another pair.
    expectAllowed(relay.charge('q', ADA, BOB, 2000));
  });

  it('over pairBytesPerSecond the charge is refused, naming the budget, and allowed again later', () => {
    const { relay, clock } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
    const reason = expectRefused(relay.charge('p', ADA, BOB, 100));
    expect(reason).toContain('1000 bytes/s');
    clock.advance(50);
    expect(relay.charge('p', ADA, BOB, 100).ok).toBe(false);
    clock.advance(50);
    // 100 ms at 1000 bytes/s refilled 100 bytes.
    expectAllowed(relay.charge('p', ADA, BOB, 100));
    expect(relay.charge('p', BOB, ADA, 1).ok).toBe(false);
    // After a long pause the bucket is full again, but holds no more than 2 s worth.
    clock.advance(60_000);
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
    expect(relay.charge('p', ADA, BOB, 1).ok).toBe(false);
  });

  it('sustained traffic at the budget rate passes; above it is refused', () => {
    const { relay, clock } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 2000)); // spend the burst
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      if (!relay.charge('p', ADA, BOB, 100).ok) refused++;
    }
    expect(refused).toBe(0);
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      if (!relay.charge('p', ADA, BOB, 200).ok) refused++;
    }
    expect(refused).toBeGreaterThanOrEqual(45);
  });

  it('a frame larger than two seconds of budget never passes', () => {
    const { relay, clock } = accounting();
    expect(relay.charge('p', ADA, BOB, 2001).ok).toBe(false);
    clock.advance(3_600_000);
    expect(relay.charge('p', ADA, BOB, 2001).ok).toBe(false);
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
  });

  it('refused bytes are not counted', () => {
    const { relay, clock } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 1000));
    expect(relay.charge('p', ADA, BOB, 1500).ok).toBe(false);
    clock.advance(USAGE_INTERVAL_MS);
    const report = expectAllowed(relay.charge('p', ADA, BOB, 10));
    expect(report).toMatchObject({ pairBytes: 1010, projectBytesToday: 1010 });
  });
});

// ---------------------------------------------------------------- project budget

describe('RelayAccounting project budget', () => {
  it('the daily budget is shared by every pair of a project; other projects are unaffected', () => {
    const { relay } = accounting({ pairBytesPerSecond: 1_000_000, projectBytesPerDay: 5000 });
    expectAllowed(relay.charge('p', ADA, BOB, 3000));
    expectAllowed(relay.charge('p', CAT, DAN, 2000));
    // Exactly at the budget: the next byte from any pair is refused.
    const reason = expectRefused(relay.charge('p', ADA, CAT, 1));
    expect(reason).toContain('p');
    expect(reason).toContain('5000 bytes');
    expect(reason).toMatch(/today/);
    expect(relay.charge('p', BOB, ADA, 1).ok).toBe(false);
    // Another project has its own budget, for the very same consoles.
    expectAllowed(relay.charge('q', ADA, BOB, 5000));
    expect(relay.charge('q', ADA, BOB, 1).ok).toBe(false);
  });

  it('a charge that would cross the budget is refused whole', () => {
    const { relay, clock } = accounting({ pairBytesPerSecond: 1_000_000, projectBytesPerDay: 5000 });
    expectAllowed(relay.charge('p', ADA, BOB, 4000));
    expect(relay.charge('p', ADA, BOB, 1001).ok).toBe(false);
    clock.advance(USAGE_INTERVAL_MS);
    const report = expectAllowed(relay.charge('p', ADA, BOB, 1000));
    expect(report?.projectBytesToday).toBe(5000);
  });

  it('resets at the next UTC midnight, not 24 h after first use', () => {
    const clock = new Clock(Date.UTC(2025, 2, 9, 23, 59, 0));
    const { relay } = accounting({ pairBytesPerSecond: 1_000_000, projectBytesPerDay: 5000 }, clock);
    expectAllowed(relay.charge('p', ADA, BOB, 5000));
    expect(relay.charge('p', ADA, BOB, 1).ok).toBe(false);
    clock.t = Date.UTC(2025, 2, 9, 23, 59, 59, 999);
    expect(relay.charge('p', ADA, BOB, 1).ok).toBe(false);
    clock.t = Date.UTC(2025, 2, 10, 0, 0, 0, 1);
    const report = expectAllowed(relay.charge('p', ADA, BOB, 5000));
    expect(report?.projectBytesToday).toBe(5000);
    expect(relay.charge('p', CAT, DAN, 1).ok).toBe(false);
  });
});

// ---------------------------------------------------------------- usage reports

describe('RelayAccounting usage reports', () => {
  it('a new pair gets a report at once, carrying the counters and the budget', () => {
    const { relay, budget } = accounting();
    const report = expectAllowed(relay.charge('p', ADA, BOB, 300));
    expect(report).toMatchObject({ pairBytes: 300, projectBytesToday: 300, budget });
  });

  it('at most one report per USAGE_INTERVAL_MS per pair, whichever direction', () => {
    const { relay, clock } = accounting({ pairBytesPerSecond: 1_000_000 });
    expect(expectAllowed(relay.charge('p', ADA, BOB, 100))).toBeDefined();
    for (let i = 0; i < 9; i++) {
      clock.advance(USAGE_INTERVAL_MS / 10);
      expect(expectAllowed(relay.charge('p', i % 2 ? ADA : BOB, i % 2 ? BOB : ADA, 100))).toBeUndefined();
    }
    clock.advance(USAGE_INTERVAL_MS / 10);
    const report = expectAllowed(relay.charge('p', BOB, ADA, 100));
    expect(report).toBeDefined();
    // Ten charges of 100 bytes, 1000 bytes over the last second (since the previous report).
    expect(report).toMatchObject({ pairBytes: 1100, projectBytesToday: 1100 });
    expect(report!.pairBytesPerSecond).toBe(1000);
    // And the interval starts again from this report.
    clock.advance(USAGE_INTERVAL_MS - 1);
    expect(expectAllowed(relay.charge('p', ADA, BOB, 100))).toBeUndefined();
  });

  it('pairBytesPerSecond is computed over the time since the previous report', () => {
    const { relay, clock } = accounting({ pairBytesPerSecond: 1_000_000 });
    expectAllowed(relay.charge('p', ADA, BOB, 100));
    clock.advance(2500);
    const report = expectAllowed(relay.charge('p', ADA, BOB, 5000));
    expect(report).toMatchObject({ pairBytes: 5100, pairBytesPerSecond: 2000 });
    clock.advance(4000);
    const idle = expectAllowed(relay.charge('p', ADA, BOB, 400));
    expect(idle).toMatchObject({ pairBytes: 5500, pairBytesPerSecond: 100 });
  });

  it('another pair reports on its own schedule', () => {
    const { relay, clock } = accounting({ pairBytesPerSecond: 1_000_000 });
    expect(expectAllowed(relay.charge('p', ADA, BOB, 100))).toBeDefined();
    clock.advance(10);
    expect(expectAllowed(relay.charge('p', ADA, BOB, 100))).toBeUndefined();
    const other = expectAllowed(relay.charge('p', ADA, CAT, 100));
    expect(other).toMatchObject({ pairBytes: 100, projectBytesToday: 300 });
  });
});

// ---------------------------------------------------------------- project rate

describe('RelayAccounting project rate', () => {
  it('every pair of a project draws on one project bucket, however many consoles there are', () => {
    const { relay, clock } = accounting({ pairBytesPerSecond: 1000, projectBytesPerSecond: 1500 });
    // Each pair may burst 2000 bytes, the project 3000 in all.
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
    expectAllowed(relay.charge('p', CAT, DAN, 1000));
    const reason = expectRefused(relay.charge('p', ADA, CAT, 1));
    expect(reason).toMatch(/project p .*1500 bytes\/s/);
    // Another project is not affected.
    expectAllowed(relay.charge('q', ADA, BOB, 2000));
    // It refills at the project's rate.
    clock.advance(100);
    expectAllowed(relay.charge('p', ADA, CAT, 150));
    expect(relay.charge('p', ADA, CAT, 1).ok).toBe(false);
  });

  it('a frame refused by the project bucket costs its pair nothing', () => {
    const { relay, clock } = accounting({ pairBytesPerSecond: 1000, projectBytesPerSecond: 500 });
    expectAllowed(relay.charge('p', ADA, BOB, 1000));
    expect(relay.charge('p', CAT, DAN, 500).ok).toBe(false);
    clock.advance(1000);
    expectAllowed(relay.charge('p', CAT, DAN, 500));
    clock.advance(USAGE_INTERVAL_MS);
    expect(expectAllowed(relay.charge('p', CAT, DAN, 0))).toMatchObject({ pairBytes: 500, projectBytesToday: 1500 });
  });
});

// ---------------------------------------------------------------- pair state lifetime

describe('RelayAccounting pair state', () => {
  it('belongs to the two peer_ids, not to their connections: nothing a console does refills it', () => {
    const { relay, clock } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
    // However the consoles come and go, the bucket refills with time only.
    clock.advance(500);
    expect(relay.charge('p', BOB, ADA, 501).ok).toBe(false);
    expectAllowed(relay.charge('p', BOB, ADA, 500));
  });

  it('is forgotten after PAIR_IDLE_MS without relaying (the bucket is full again long before)', () => {
    const { relay, clock } = accounting();
    expectAllowed(relay.charge('p', ADA, BOB, 2000));
    clock.advance(PAIR_IDLE_MS + 1);
    // The sweep runs on a charge; the pair then starts again, with a new count.
    expectAllowed(relay.charge('p', CAT, DAN, 1));
    expect(expectAllowed(relay.charge('p', ADA, BOB, 2000))).toMatchObject({ pairBytes: 2000, projectBytesToday: 4001 });
  });
});

describe('first report of a new pair', () => {
  it('reports at once, with a rate never above the bytes actually sent', () => {
    const accounting = new RelayAccounting(undefined, () => 1_000_000);
    const result = accounting.charge('p', 'a', 'b', 65536);
    expect(result.ok && result.report?.pairBytesPerSecond).toBe(65536);
  });

  it('a zero-byte first charge does not turn off the once-per-interval limit', () => {
    let now = 1_000_000;
    const accounting = new RelayAccounting(undefined, () => now);
    accounting.charge('p', 'a', 'b', 0);
    now += 10;
    const second = accounting.charge('p', 'a', 'b', 100);
    expect(second.ok && second.report).toBeUndefined();
  });
});
