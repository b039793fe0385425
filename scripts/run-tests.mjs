#!/usr/bin/env node
// `npm test`: lint, type checks, build, unit tests (Vitest), browser and Electron tests
// (Playwright), the NAT lab and the soak of faults (Playwright, docs/NATLAB.md), then one summary line
// "N passed, N failed, N skipped" that CI reads.
// Browser tests run in a private network namespace with only loopback (unshare -n), so no
// WebRTC or mDNS traffic can reach a real interface; that needs root (CI is root).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const OUT = '.test-output';
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];
/** Passed only when run again: counted as passed, and named in the summary. */
const flaky = [];
const skips = [];

const started = Date.now();
const minutes = (ms) => (ms / 60_000).toFixed(1);

/**
 * Runs one stage with a wall-clock budget, so that a stage that hangs ends as a failure with a
 * message instead of taking the whole CI run to its limit with no summary. `timeout` (coreutils)
 * signals the stage's whole process group, then kills it 30 s later.
 * Budgets: about three times what each stage takes on a 2-core machine.
 */
function run(title, command, args, { budgetMinutes }) {
  console.log(`\n=== ${title}: ${[command, ...args].join(' ')}   [at ${minutes(Date.now() - started)} min, budget ${budgetMinutes} min]`);
  const result = spawnSync('timeout', ['--kill-after=30', String(budgetMinutes * 60), command, ...args], { stdio: 'inherit' });
  if (result.status === 124 || result.status === 137) {
    console.log(`\n=== ${title}: TIMED OUT after ${budgetMinutes} min (stopped)`);
    failures.push(`${title} did not finish within its budget of ${budgetMinutes} min`);
    totals.failed++;
  }
  return result.status === 0;
}

/** A step that is one check: it passes or fails as a whole. */
function check(title, command, args) {
  if (run(title, command, args, { budgetMinutes: 3 })) totals.passed++;
  else {
    totals.failed++;
    failures.push(title);
  }
}

check('lint', 'npx', ['eslint', '.']);
check('typecheck (main, preload, shared, tests)', 'npx', ['vue-tsc', '--noEmit', '-p', 'tsconfig.node.json']);
check('typecheck (renderer)', 'npx', ['vue-tsc', '--noEmit', '-p', 'tsconfig.web.json']);
check('build', 'npx', ['electron-vite', 'build']);

// --- unit tests -------------------------------------------------------------------------------
const vitest = (files, json) => ['vitest', 'run', ...files, '--reporter=default', '--reporter=json', `--outputFile=${json}`];
const unitRan = run('unit tests (vitest)', 'npx', vitest([], `${OUT}/vitest.json`), { budgetMinutes: 10 });
// A file whose worker the watchdog killed (blocked in a native call: tests/support/vitest-watchdog.ts)
// runs once more on its own: passing then, it is reported as flaky (named in the summary), as
// Playwright reports a test that passed on retry; failing again, it is a failure.
const blocked = existsSync(`${OUT}/vitest-blocked.txt`) ? [...new Set(readFileSync(`${OUT}/vitest-blocked.txt`, 'utf8').split('\n').filter(Boolean))] : [];
const rerunOk = blocked.length > 0 && run(`unit tests whose worker was blocked, once more: ${blocked.join(', ')}`, 'npx', vitest(blocked, `${OUT}/vitest-rerun.json`), { budgetMinutes: 3 });
if (existsSync(`${OUT}/vitest.json`)) {
  const report = JSON.parse(readFileSync(`${OUT}/vitest.json`, 'utf8'));
  const rerun = rerunOk && existsSync(`${OUT}/vitest-rerun.json`) ? JSON.parse(readFileSync(`${OUT}/vitest-rerun.json`, 'utf8')) : undefined;
  // The blocked files count from their second run when there was one.
  const isBlocked = (file) => Boolean(rerun) && blocked.some((b) => file.name.endsWith(b));
  const files = [...report.testResults.filter((f) => !isBlocked(f)), ...(rerun?.testResults ?? [])];
  for (const file of files) {
    for (const t of file.assertionResults) {
      if (t.status === 'passed') totals.passed++;
      else if (t.status === 'failed') {
        totals.failed++;
        failures.push(`vitest: ${t.fullName}`);
      } else totals.skipped++;
    }
    // A file that failed to load has no assertions but is a failure.
    if (file.status === 'failed' && file.assertionResults.length === 0) {
      totals.failed++;
      failures.push(`vitest: ${file.name} did not run: ${file.message}`);
    }
  }
  for (const b of blocked) (rerun ? flaky : failures).push(`vitest: ${b} — its worker was blocked (killed by the watchdog, see above)${rerun ? '; passed when run again' : ''}`);
  if (blocked.length && !rerun) totals.failed++;
  // Other unhandled errors leave every test "passed" in the report: only Vitest's exit status tells.
  if (!unitRan && !blocked.length && report.numFailedTests === 0) {
    totals.failed++;
    failures.push('vitest exited non-zero with no failed test: unhandled errors (see "Unhandled Error" above)');
  }
} else {
  totals.failed++;
  failures.push('vitest produced no report');
}

// --- browser and Electron tests -----------------------------------------------------------------
const isRoot = process.getuid?.() === 0;
const haveUnshare = spawnSync('sh', ['-c', 'command -v unshare && command -v ip'], { stdio: 'ignore' }).status === 0;
const playwright = 'npx playwright test';
let ran;
if (isRoot && haveUnshare && process.env.WSP_NO_NETNS !== '1') {
  ran = run('browser + electron tests (playwright, loopback-only network namespace)', 'unshare', ['-n', '--', 'sh', '-c', `ip link set lo up && exec ${playwright}`], { budgetMinutes: 25 });
} else {
  console.log('\n(not root or no unshare/ip: browser tests run in the normal network namespace; they use loopback only)');
  ran = run('browser + electron tests (playwright)', 'sh', ['-c', playwright], { budgetMinutes: 25 });
}
countPlaywright(`${OUT}/playwright.json`, 'playwright', ran);

// --- NAT lab ------------------------------------------------------------------------------------
// Not inside the loopback-only namespace above: the lab builds its own namespaces (ip netns,
// veth, iptables NAT routers), none connected to a real interface. Without root or iproute2 /
// iptables its tests report themselves skipped, with the reason.
const labRan = run('NAT lab (playwright, its own network namespaces)', 'sh', ['-c', 'npx playwright test -c tests/natlab/playwright.config.ts'], { budgetMinutes: 10 });
countPlaywright(`${OUT}/natlab.json`, 'natlab', labRan);

// --- soak of faults -------------------------------------------------------------------------------
// Six consoles in the NAT lab's LANs, posting while the registry, a link, a console and a router
// fail in turn (docs/NATLAB.md, "Soak"); at most 5 minutes.
const soakRan = run('soak of faults (playwright, the NAT lab)', 'sh', ['-c', 'npx playwright test -c tests/soak/playwright.config.ts'], { budgetMinutes: 10 });
countPlaywright(`${OUT}/soak.json`, 'soak', soakRan);

/** Adds a Playwright JSON report's counts, failures and skip reasons to the totals. */
function countPlaywright(file, label, ran) {
  if (!existsSync(file)) {
    totals.failed++;
    failures.push(`${label} produced no report (exit ${ran ? 0 : 'non-zero'})`);
    return;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  totals.passed += report.stats.expected + report.stats.flaky;
  totals.failed += report.stats.unexpected;
  totals.skipped += report.stats.skipped;
  const walk = (suite, path) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests) {
        const name = `${t.projectName}: ${[...path, spec.title].join(' › ')}`;
        if (t.status === 'unexpected') failures.push(`playwright ${name}${describeFailure(t)}`);
        if (t.status === 'skipped') {
          const reason = t.annotations?.find((a) => a.type === 'skip' || a.type === 'fixme')?.description ?? 'no reason given';
          skips.push(`${name} — ${reason}`);
        }
      }
    }
    for (const child of suite.suites ?? []) walk(child, [...path, child.title]);
  };
  for (const suite of report.suites) walk(suite, []);
  if (report.errors?.length) {
    totals.failed += report.errors.length;
    failures.push(...report.errors.map((e) => `${label}: ${e.message?.split('\n')[0]}`));
  }
}

/**
 * Where and why a Playwright test failed, a few lines long: CI keeps only the end of the output,
 * so the summary must say enough to act on without the run's artifacts.
 */
function describeFailure(test) {
  const result = test.results?.at(-1);
  const error = result?.errors?.[0] ?? result?.error;
  if (!error) return '';
  const plain = (text) => text.replace(/\u001b\[[0-9;]*m/g, '');
  const lines = plain(error.message ?? '').split('\n').filter((l) => l.trim());
  const callLog = lines.findIndex((l) => l.trim().startsWith('Call log'));
  const message = lines.slice(0, callLog >= 0 ? Math.min(callLog, 6) : 6).map((l) => `    ${l}`).join('\n');
  const where = error.location ? `${error.location.file.replace(`${process.cwd()}/`, '')}:${error.location.line}` : '';
  return `\n    at ${where || 'unknown location'} (attempt took ${result.duration} ms)\n${message}`;
}

console.log(`\n=== summary (${minutes(Date.now() - started)} min)`);
for (const s of skips) console.log(`skipped: ${s}`);
for (const f of flaky) console.log(`FLAKY: ${f}`);
for (const f of failures) console.log(`FAILED: ${f}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed === 0 ? 0 : 1);
