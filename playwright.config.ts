import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumPath } from './tests/support/chromium';

// Browser tests drive Debian's Chromium (no Playwright browser download) against real registries
// on loopback. `npm test` runs them inside a private network namespace (see scripts/run-tests.mjs).
export default defineConfig({
  testDir: './tests',
  testMatch: ['browser/**/*.spec.ts', 'electron/**/*.spec.ts'],
  fullyParallel: false,
  workers: 1, // two cores: each test already runs several browser contexts
  retries: 0,
  globalTimeout: 22 * 60_000, // inside run-tests.mjs's 25-minute budget, so a hang still writes the report
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['json', { outputFile: '.test-output/playwright.json' }]],
  use: {
    launchOptions: { executablePath: chromiumPath(), args: CHROMIUM_ARGS },
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'browser', testMatch: 'browser/**/*.spec.ts' },
    { name: 'electron', testMatch: 'electron/**/*.spec.ts' },
  ],
});
