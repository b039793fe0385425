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

export interface ResultOptions {
  /** How the ratio is formed (default ours/baseline, as every earlier entry). */
  ratio?: 'ours/baseline' | 'baseline/ours';
  /** Whether a ratio above 1 means we are ahead (said in the table; earlier entries leave it out). */
  higherIsBetter?: boolean;
}

/** One result: ours against the baseline from the same run (ratio = ours / baseline unless `options.ratio` says otherwise). */
export function recordResult(name: string, ours: number, baseline: number, unit: string, options: ResultOptions = {}): void {
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  const ratio = options.ratio === 'baseline/ours' ? baseline / ours : ours / baseline;
  const extra = options.ratio ? { ratioOf: options.ratio, ...(options.higherIsBetter !== undefined ? { higherIsBetter: options.higherIsBetter } : {}) } : {};
  appendFileSync(RESULTS_FILE, JSON.stringify({ name, ours, baseline, ratio, unit, ...extra }) + '\n');
}
