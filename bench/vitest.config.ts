import { defineConfig } from 'vitest/config';

// Benchmarks run as one Vitest file so they can import the TypeScript sources directly;
// they print medians and ratios against baselines measured in the same run.
export default defineConfig({
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 300_000, fileParallelism: false },
});
