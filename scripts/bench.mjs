#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --json FILE]`: runs bench/*.bench.ts (registry in Node; links in
// Debian's Chromium inside a loopback-only network namespace when root), then prints one table of
// medians with ratios against baselines measured in the same run, and optionally writes JSON:
// {"machine": {...}, "results": {"<name>": {"ours", "baseline", "ratio", "unit"}}}.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const RESULTS = '.test-output/bench-results.jsonl';

mkdirSync('.test-output', { recursive: true });
rmSync(RESULTS, { force: true });
const vitest = 'npx vitest run --config bench/vitest.config.ts --reporter=dot';
const env = { ...process.env, BENCH_QUICK: quick ? '1' : '0' };
const isRoot = process.getuid?.() === 0;
const netns = isRoot && spawnSync('sh', ['-c', 'command -v unshare && command -v ip'], { stdio: 'ignore' }).status === 0;
const run = netns
  ? spawnSync('unshare', ['-n', '--', 'sh', '-c', `ip link set lo up && exec ${vitest}`], { stdio: 'inherit', env })
  : spawnSync('sh', ['-c', vitest], { stdio: 'inherit', env });

const results = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
console.log('\nbenchmark | ours | baseline | ratio (ours / baseline) | unit');
for (const r of results) console.log(`${r.name} | ${r.ours.toFixed(3)} | ${r.baseline.toFixed(3)} | ${r.ratio.toFixed(2)} | ${r.unit}`);
if (jsonFile) {
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.platform()} ${os.release()}`, quick };
  writeFileSync(jsonFile, JSON.stringify({ machine, results: Object.fromEntries(results.map(({ name, ...rest }) => [name, rest])) }, null, 2) + '\n');
  console.log(`wrote ${jsonFile}`);
}
process.exit(run.status ?? 1);
