#!/usr/bin/env node
// `npm run bench`: runs bench/*.bench.ts and prints medians and ratios against same-run baselines.
import { spawnSync } from 'node:child_process';
const result = spawnSync('npx', ['vitest', 'run', '--config', 'bench/vitest.config.ts', '--reporter=dot', '--silent=false'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
