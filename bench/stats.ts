import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Set per run by scripts/bench.mjs (outside .test-output, which test runs clear): concurrent runs keep apart. */
export const RESULTS_FILE = process.env.BENCH_RESULTS_FILE ?? '.test-output/bench-results.jsonl';

/**
 * A 95 % interval for `ratio(ours, baseline)` (e.g. one median over another), by resampling whole
 * iterations: ours[i] and baseline[i] were measured side by side, so they are drawn together and
 * drift during the run stays paired. Seeded, so a run's interval can be recomputed.
 */
export function bootstrapInterval(ours: number[], baseline: number[], ratio: (ours: number[], baseline: number[]) => number, resamples = 2000): [number, number] {
  if (ours.length !== baseline.length || ours.length === 0) throw new Error('bootstrapInterval needs paired samples');
  let seed = 0x9e3779b9;
  const random = () => {
    // mulberry32: small, seeded, good enough to pick indices
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ratios: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const picks = ours.map(() => Math.floor(random() * ours.length));
    ratios.push(ratio(picks.map((i) => ours[i]!), picks.map((i) => baseline[i]!)));
  }
  return [percentile(ratios, 2.5), percentile(ratios, 97.5)];
}

export interface ResultOptions {
  /** How the ratio is formed (default ours/baseline, as every earlier entry). */
  ratio?: 'ours/baseline' | 'baseline/ours';
  /** Whether a ratio above 1 means we are ahead (said in the table; earlier entries leave it out). */
  higherIsBetter?: boolean;
  /** A 95 % interval of the ratio (bootstrapInterval), where the figure is noisy enough to need one. */
  interval?: [number, number];
}

/** One result: ours against the baseline from the same run (ratio = ours / baseline unless `options.ratio` says otherwise). */
export function recordResult(name: string, ours: number, baseline: number, unit: string, options: ResultOptions = {}): void {
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  const ratio = options.ratio === 'baseline/ours' ? baseline / ours : ours / baseline;
  const extra = {
    ...(options.ratio ? { ratioOf: options.ratio, ...(options.higherIsBetter !== undefined ? { higherIsBetter: options.higherIsBetter } : {}) } : {}),
    ...(options.interval ? { interval: options.interval } : {}),
  };
  appendFileSync(RESULTS_FILE, JSON.stringify({ name, ours, baseline, ratio, unit, ...extra }) + '\n');
}
