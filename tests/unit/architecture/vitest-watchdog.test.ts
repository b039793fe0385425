/**
 * The unit-test run's guard against a hang (tests/support/vitest-watchdog.ts): a worker whose event
 * loop is blocked — no test timeout can fire then — is killed, named and recorded, and the run ends.
 * Without it CI waited for such a worker until its 90-minute limit, with no report.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const VITEST = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const CONFIG = resolve(__dirname, '../../support/fixtures/vitest.blocked.config.ts');

describe('the Vitest watchdog', () => {
  it('kills a worker blocked in a call that never returns, names its test, records its file, and the run ends', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wsp-watchdog-'));
    const started = Date.now();
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
      const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG], { cwd, env: { ...process.env, WSP_VITEST_STALL_MS: '2000', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('close', (code) => done({ code, output }));
    });
    expect(code, output).not.toBe(0);
    expect(output).toContain('[vitest watchdog] the worker running "blocked-worker.fixture.ts › blocks its worker" has been blocked for');
    expect(readFileSync(join(cwd, '.test-output', 'vitest-blocked.txt'), 'utf8')).toBe('blocked-worker.fixture.ts\n');
    expect(Date.now() - started).toBeLessThan(60_000); // the fixture would block for 120 s
  }, 90_000);
});
