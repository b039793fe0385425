#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --json FILE] [-- --only peerjs,capacity]`: runs bench/*.bench.ts
// (registry in Node; links in Debian's Chromium inside a loopback-only network namespace when root),
// then prints one table of medians with ratios against baselines measured in the same run, and
// optionally writes JSON: {"machine": {...}, "results": {"<name>": {"ours", "baseline", "ratio",
// "unit"[, "ratioOf", "higherIsBetter", "interval"]}}}. ratio = ours / baseline unless ratioOf says
// "baseline/ours" (the PeerJS setup time, so that above 1 means we are ahead there too).
// "interval": a 95 % bootstrap interval of the ratio, for figures noisy enough to need one.
// --only runs the bench files whose names contain one of the words.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1].split(',').filter((w) => /^[\w-]+$/.test(w)) : [];
// One results file per run, outside .test-output (test runs clear it): runs by others at the same time stay apart.
const RESULTS = `${os.tmpdir()}/wsp-bench-results-${process.pid}.jsonl`;

mkdirSync('.test-output', { recursive: true });
rmSync(RESULTS, { force: true });
const vitest = ['npx vitest run --config bench/vitest.config.ts --reporter=dot', ...only].join(' ');
// The capacity benchmark holds 10,000 sockets in the load generator and as many in each server:
// raise the open-file limit for this run (root may raise the hard limit; otherwise keep what we have).
const ulimit = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true';
const env = { ...process.env, BENCH_QUICK: quick ? '1' : '0', BENCH_RESULTS_FILE: RESULTS };
const isRoot = process.getuid?.() === 0;
const netns = isRoot && spawnSync('sh', ['-c', 'command -v unshare && command -v ip'], { stdio: 'ignore' }).status === 0;
const run = netns
  ? spawnSync('unshare', ['-n', '--', 'sh', '-c', `ip link set lo up && ${ulimit}; exec ${vitest}`], { stdio: 'inherit', env })
  : spawnSync('sh', ['-c', `${ulimit}; exec ${vitest}`], { stdio: 'inherit', env });

const results = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
console.log('\nbenchmark | ours | baseline | ratio | ratio is | unit');
for (const r of results) {
  const ahead = r.higherIsBetter === undefined ? '' : r.higherIsBetter ? ', >1 = we are ahead' : ', <1 = we are ahead';
  const interval = r.interval ? ` (95 %: ${r.interval[0].toFixed(2)}–${r.interval[1].toFixed(2)})` : '';
  console.log(`${r.name} | ${r.ours.toFixed(3)} | ${r.baseline.toFixed(3)} | ${r.ratio.toFixed(2)}${interval} | ${r.ratioOf ?? 'ours/baseline'}${ahead} | ${r.unit}`);
}
if (jsonFile) {
  const chromium = spawnSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout?.trim() || undefined;
  const machine = { chromium, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 1024 ** 3), node: process.version, platform: `${os.platform()} ${os.release()}`, quick };
  writeFileSync(jsonFile, JSON.stringify({ machine, results: Object.fromEntries(results.map(({ name, ...rest }) => [name, rest])) }, null, 2) + '\n');
  console.log(`wrote ${jsonFile}`);
}
rmSync(RESULTS, { force: true });
process.exit(run.status ?? 1);
