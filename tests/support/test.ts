/**
 * The `test` every browser spec uses: Playwright's, with the page-noise check (page-noise.ts) on
 * every test. A test that provokes errors on purpose declares them:
 * `test('…', async ({ browser, pageNoise }) => { pageNoise.expect(/…/, 'why'); … })`.
 */
import { test as base } from '@playwright/test';
import { PageNoise, setCurrentPageNoise } from './page-noise';

export const test = base.extend<{ pageNoise: PageNoise }>({
  pageNoise: [
    async ({}, use) => {
      const noise = new PageNoise();
      setCurrentPageNoise(noise);
      try {
        await use(noise); // the test and its afterEach hooks (which close the consoles)
      } finally {
        setCurrentPageNoise(undefined);
      }
      const problems = noise.problems();
      if (problems.length) throw new Error(`The pages of this test reported what it did not expect:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    },
    { auto: true },
  ],
});

export { expect } from '@playwright/test';
