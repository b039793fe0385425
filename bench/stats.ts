import { appendFileSync, mkdirSync } from 'node:fs';

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

export const RESULTS_FILE = '.test-output/bench-results.jsonl';

/** One result: ours against the baseline from the same run (ratio = ours / baseline). */
export function recordResult(name: string, ours: number, baseline: number, unit: string): void {
  mkdirSync('.test-output', { recursive: true });
  appendFileSync(RESULTS_FILE, JSON.stringify({ name, ours, baseline, ratio: ours / baseline, unit }) + '\n');
}
