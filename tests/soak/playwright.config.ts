import { defineConfig } from '@playwright/test';

// The soak of faults (docs/NATLAB.md, "Soak"): consoles in the NAT lab's LANs, posting steadily
// while the registry, a link, a console and a router fail in turn. Like the NAT lab, it builds its
// own network namespaces, so scripts/run-tests.mjs runs it as a separate step; `npm run test:soak`
// runs it alone.
export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  globalSetup: '../support/natlab/global-setup.ts',
  globalTeardown: '../support/natlab/global-teardown.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  globalTimeout: 8 * 60_000, // inside run-tests.mjs's 10-minute budget, so a hang still writes the report
  timeout: 300_000, // the bound for the whole soak: 5 minutes
  expect: { timeout: 30_000 },
  reporter: [['list'], ['json', { outputFile: '../../.test-output/soak.json' }]],
  projects: [{ name: 'soak' }],
});
