/**
 * Counts relayed bytes per console pair and per project, and enforces the relay budgets: bytes
 * per second for a pair (a token bucket) and bytes per UTC day for a project. Over budget the
 * frame is refused — the sender is told, nothing is dropped silently.
 */
import { TokenBucket } from '../../src-shared/token-bucket';

export interface RelayBudget {
  pairBytesPerSecond: number;
  projectBytesPerDay: number;
}

export const DEFAULT_RELAY_BUDGET: RelayBudget = { pairBytesPerSecond: 2 * 1024 * 1024, projectBytesPerDay: 20 * 1024 ** 3 };
/** How often (at most) consoles of a relaying pair get a relay_usage update. */
export const USAGE_INTERVAL_MS = 1000;

export interface RelayUsage {
  pairBytes: number;
  pairBytesPerSecond: number;
  projectBytesToday: number;
  budget: RelayBudget;
}

interface PairState {
  bucket: TokenBucket;
  bytes: number;
  lastReportAt: number;
  bytesAtLastReport: number;
  reported: boolean;
}

export class RelayAccounting {
  private readonly pairs = new Map<string, PairState>();
  private readonly projects = new Map<string, { day: number; bytes: number }>();

  constructor(readonly budget: RelayBudget = DEFAULT_RELAY_BUDGET, private readonly now: () => number = Date.now) {}

  /**
   * Charges `bytes` to the pair; returns the refusal reason, or the usage to report when an update
   * is due (at most once per USAGE_INTERVAL_MS per pair).
   */
  charge(project: string, a: string, b: string, bytes: number, sharedProjectBytesToday = 0): { ok: false; reason: string } | { ok: true; report?: RelayUsage } {
    const now = this.now();
    const key = `${project}\u0000${a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`}`;
    let pair = this.pairs.get(key);
    if (!pair) {
      // Burst of two seconds' worth, so short spikes pass and sustained excess does not.
      pair = { bucket: new TokenBucket(this.budget.pairBytesPerSecond, this.budget.pairBytesPerSecond * 2, this.now), bytes: 0, lastReportAt: now, bytesAtLastReport: 0, reported: false };
      this.pairs.set(key, pair);
    }
    const day = Math.floor(now / 86_400_000);
    let usage = this.projects.get(project);
    if (!usage || usage.day !== day) this.projects.set(project, (usage = { day, bytes: 0 }));

    // With several instances, the project's bytes today are the shared total (if larger than ours).
    if (Math.max(usage.bytes, sharedProjectBytesToday) + bytes > this.budget.projectBytesPerDay) {
      return { ok: false, reason: `project ${project} has used its relay budget of ${this.budget.projectBytesPerDay} bytes today` };
    }
    if (!pair.bucket.take(bytes)) {
      return { ok: false, reason: `this pair is over its relay budget of ${this.budget.pairBytesPerSecond} bytes/s: slow down` };
    }
    pair.bytes += bytes;
    usage.bytes += bytes;
    if (pair.reported && now - pair.lastReportAt < USAGE_INTERVAL_MS) return { ok: true };
    // The first report comes at once, its rate taken over a whole interval: never more than was sent.
    const elapsed = Math.max(USAGE_INTERVAL_MS, now - pair.lastReportAt);
    const report: RelayUsage = {
      pairBytes: pair.bytes,
      pairBytesPerSecond: Math.round(((pair.bytes - pair.bytesAtLastReport) * 1000) / elapsed),
      projectBytesToday: usage.bytes,
      budget: this.budget,
    };
    pair.lastReportAt = now;
    pair.bytesAtLastReport = pair.bytes;
    pair.reported = true;
    return { ok: true, report };
  }

  /** Forgets pairs with a console that left (their counters restart if it returns). */
  forgetPeer(project: string, peerId: string): void {
    for (const key of this.pairs.keys()) {
      const [p, a, b] = key.split('\u0000');
      if (p === project && (a === peerId || b === peerId)) this.pairs.delete(key);
    }
  }
}
