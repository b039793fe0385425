/**
 * Counts relayed bytes per console pair and per project, and enforces the relay budgets: bytes
 * per second for a pair and for a whole project (token buckets), and bytes per UTC day for a
 * project. Over budget the frame is refused — the sender is told, nothing is dropped silently.
 *
 * A pair's state is keyed by the two peer_ids, not by connections: a console that reconnects finds
 * its pairs' buckets as it left them. Identities cost nothing to make, so however many one invite
 * admits, the project's buckets bound them all together. With several instances (`--redis`) the
 * same rules run in Redis (RedisCluster.chargeRelay); this class then only schedules the reports,
 * and enforces alone while Redis is unreachable.
 */
import { TokenBucket } from '../../src-shared/token-bucket';

export interface RelayBudget {
  pairBytesPerSecond: number;
  /** Shared by every pair of a project. */
  projectBytesPerSecond: number;
  projectBytesPerDay: number;
}

export const DEFAULT_RELAY_BUDGET: RelayBudget = { pairBytesPerSecond: 2 * 1024 * 1024, projectBytesPerSecond: 8 * 1024 * 1024, projectBytesPerDay: 20 * 1024 ** 3 };
/** Buckets hold two seconds' worth, so short spikes pass and sustained excess does not. */
export const BURST_SECONDS = 2;
/** How often (at most) consoles of a relaying pair get a relay_usage update. */
export const USAGE_INTERVAL_MS = 1000;
/**
 * A pair idle this long is forgotten. Its bucket has long been full again by then, so forgetting
 * it grants nothing; only the pair's byte count in relay_usage starts again.
 */
export const PAIR_IDLE_MS = 10 * 60_000;

export interface RelayUsage {
  pairBytes: number;
  pairBytesPerSecond: number;
  projectBytesToday: number;
  budget: RelayBudget;
}

export type RelayRefusal = 'day' | 'project' | 'pair';

/** The reason sent with RELAY_OVER_BUDGET. */
export function refusalReason(refusal: RelayRefusal, project: string, budget: RelayBudget): string {
  if (refusal === 'day') return `project ${project} has used its relay budget of ${budget.projectBytesPerDay} bytes today`;
  if (refusal === 'project') return `project ${project} is over its relay budget of ${budget.projectBytesPerSecond} bytes/s (all its consoles together): slow down`;
  return `this pair is over its relay budget of ${budget.pairBytesPerSecond} bytes/s: slow down`;
}

export const utcDay = (ms: number): number => Math.floor(ms / 86_400_000);

interface PairState {
  bucket: TokenBucket;
  bytes: number;
  lastUsedAt: number;
  lastReportAt: number;
  bytesAtLastReport: number;
  reported: boolean;
}

interface ProjectState {
  bucket: TokenBucket;
  day: number;
  bytes: number;
  lastUsedAt: number;
}

export class RelayAccounting {
  private readonly pairs = new Map<string, PairState>();
  private readonly projects = new Map<string, ProjectState>();
  private lastSweep: number;

  constructor(readonly budget: RelayBudget = DEFAULT_RELAY_BUDGET, private readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /**
   * Charges `bytes` to the pair and its project; returns the refusal reason, or the usage to report
   * when an update is due (at most once per USAGE_INTERVAL_MS per pair). A refused frame costs nothing.
   */
  charge(project: string, a: string, b: string, bytes: number, sharedProjectBytesToday = 0): { ok: false; reason: string } | { ok: true; report?: RelayUsage } {
    const now = this.now();
    this.sweep(now);
    const pair = this.pair(project, a, b, now);
    const usage = this.project(project, now);
    // With several instances and Redis away, the project's bytes today are at least the last shared total.
    const refusal: RelayRefusal | undefined =
      Math.max(usage.bytes, sharedProjectBytesToday) + bytes > this.budget.projectBytesPerDay ? 'day'
      : pair.bucket.msUntil(bytes) > 0 ? 'pair'
      : usage.bucket.msUntil(bytes) > 0 ? 'project'
      : undefined;
    if (refusal) return { ok: false, reason: refusalReason(refusal, project, this.budget) };
    pair.bucket.take(bytes);
    usage.bucket.take(bytes);
    pair.bytes += bytes;
    usage.bytes += bytes;
    return { ok: true, ...this.due(pair, now, bytes, pair.bytes, usage.bytes) };
  }

  /**
   * A frame charged elsewhere (in Redis, across instances), with the shared totals after it: only
   * the report is scheduled here.
   */
  charged(project: string, a: string, b: string, bytes: number, totals: { pairBytes: number; projectBytesToday: number }): RelayUsage | undefined {
    const now = this.now();
    this.sweep(now);
    return this.due(this.pair(project, a, b, now), now, bytes, totals.pairBytes, totals.projectBytesToday).report;
  }

  /** `bytes`: the frame just charged; `pairBytes`, `projectBytesToday`: the totals with it. */
  private due(pair: PairState, now: number, bytes: number, pairBytes: number, projectBytesToday: number): { report?: RelayUsage } {
    pair.bytes = pairBytes;
    if (pair.reported && now - pair.lastReportAt < USAGE_INTERVAL_MS) return {};
    // The first report comes at once, its rate taken over a whole interval and this frame only:
    // never more than was sent (a shared total may hold bytes of long ago).
    const elapsed = Math.max(USAGE_INTERVAL_MS, now - pair.lastReportAt);
    const since = pair.reported ? pair.bytesAtLastReport : pairBytes - bytes;
    const report: RelayUsage = {
      pairBytes,
      pairBytesPerSecond: Math.round(((pairBytes - since) * 1000) / elapsed),
      projectBytesToday,
      budget: this.budget,
    };
    pair.lastReportAt = now;
    pair.bytesAtLastReport = pairBytes;
    pair.reported = true;
    return { report };
  }

  private pair(project: string, a: string, b: string, now: number): PairState {
    const key = `${project}\u0000${a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`}`;
    let pair = this.pairs.get(key);
    if (!pair) {
      const rate = this.budget.pairBytesPerSecond;
      pair = { bucket: new TokenBucket(rate, rate * BURST_SECONDS, this.now), bytes: 0, lastUsedAt: now, lastReportAt: now, bytesAtLastReport: 0, reported: false };
      this.pairs.set(key, pair);
    }
    pair.lastUsedAt = now;
    return pair;
  }

  private project(project: string, now: number): ProjectState {
    const day = utcDay(now);
    let usage = this.projects.get(project);
    if (!usage) {
      const rate = this.budget.projectBytesPerSecond;
      usage = { bucket: new TokenBucket(rate, rate * BURST_SECONDS, this.now), day, bytes: 0, lastUsedAt: now };
      this.projects.set(project, usage);
    }
    if (usage.day !== day) Object.assign(usage, { day, bytes: 0 });
    usage.lastUsedAt = now;
    return usage;
  }

  /** Forgets pairs and projects idle for PAIR_IDLE_MS (a project's day total only once the day is over). */
  private sweep(now: number): void {
    if (now - this.lastSweep < PAIR_IDLE_MS / 10) return;
    this.lastSweep = now;
    for (const [key, pair] of this.pairs) if (now - pair.lastUsedAt > PAIR_IDLE_MS) this.pairs.delete(key);
    for (const [key, usage] of this.projects) if (now - usage.lastUsedAt > PAIR_IDLE_MS && usage.day !== utcDay(now)) this.projects.delete(key);
  }
}
