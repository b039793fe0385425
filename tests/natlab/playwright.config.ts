import { defineConfig } from '@playwright/test';

// The NAT lab (docs/NATLAB.md): Chromium inside network namespaces behind iptables NAT routers.
// It builds its own namespaces, so it must not run inside `npm test`'s loopback-only one;
// scripts/run-tests.mjs runs it as a separate step. `npm run test:natlab` runs it alone.
export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  globalSetup: '../support/natlab/global-setup.ts',
  globalTeardown: '../support/natlab/global-teardown.ts',
  fullyParallel: false,
  workers: 1, // one lab, one Chromium per LAN, shared by the scenarios
  retries: 0,
  globalTimeout: 8 * 60_000, // inside run-tests.mjs's 10-minute budget, so a hang still writes the report
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [['list'], ['json', { outputFile: '../../.test-output/natlab.json' }]],
  projects: [{ name: 'natlab' }],
});
