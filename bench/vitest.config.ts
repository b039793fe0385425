import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const { version } = JSON.parse(readFileSync(new URL('../package.json', `file://${__dirname}/`), 'utf8')) as { version: string };

// Benchmarks run as one Vitest file so they can import the TypeScript sources directly;
// they print medians and ratios against baselines measured in the same run.
export default defineConfig({
  // As the build does: the version agents tell their peers (agent.bench.ts runs one).
  define: { __APP_VERSION__: JSON.stringify(version) },
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 300_000, fileParallelism: false },
});
