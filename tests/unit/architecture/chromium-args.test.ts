/**
 * The Chromium switches every test and benchmark launches with (tests/support/chromium.ts) add a
 * `--disable-features` of their own, which replaces Playwright's (Chromium keeps a switch's last
 * value). So they repeat Playwright's list; this fails when the installed Playwright's list is no
 * longer the one repeated, rather than letting a feature Playwright turns off come back unseen.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CHROMIUM_ARGS, PLAYWRIGHT_DISABLED_FEATURES } from '../../support/chromium';

/** The string literals of `disabledFeatures = [...]` in playwright-core's code (chromiumSwitches.ts, bundled). */
function playwrightDisabledFeatures(): string[] {
  const lib = join(dirname(require.resolve('playwright-core/package.json')), 'lib');
  const files = readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  for (const file of files) {
    const code = readFileSync(join(lib, file), 'utf8');
    const list = /disabledFeatures = \[([^\]]*)\]/.exec(code);
    if (list) return [...list[1]!.matchAll(/^\s*"([^"]+)"/gm)].map((m) => m[1]!);
  }
  throw new Error("playwright-core's disabledFeatures list was not found: see where chromiumSwitches.ts went");
}

describe('Chromium switches for tests and benchmarks', () => {
  it("repeat Playwright's own disabled features, in one --disable-features with the omnibox popup's", () => {
    expect(PLAYWRIGHT_DISABLED_FEATURES).toEqual(playwrightDisabledFeatures());
    const switches = CHROMIUM_ARGS.filter((a) => a.startsWith('--disable-features='));
    expect(switches).toHaveLength(1);
    const features = switches[0]!.slice('--disable-features='.length).split(',');
    expect(features).toEqual(expect.arrayContaining([...PLAYWRIGHT_DISABLED_FEATURES, 'WebUIOmniboxPopup']));
  });
});
