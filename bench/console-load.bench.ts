/**
 * What the compile hint on the engine chunk costs the console's start (scripts/compile-hints.ts):
 * the web console's page, built as the product is, loaded in a fresh browser context, against
 * the same build without the hint (the same chunks, the comment alone differs), alternating.
 *   console_load_ms   navigation → DOMContentLoaded: the scripts fetched over loopback, compiled
 *                     and run, the GUI mounted (median; ratio = ours / without the hint, < 1 =
 *                     the hint costs nothing)
 */
import { it } from 'vitest';
import { chromium } from '@playwright/test';
import { resolve } from 'node:path';
import pino from 'pino';
import type { Plugin } from 'vite';
import config from '../electron.vite.config';
import { createRegistry } from '../src-main/registry/registry';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { ENGINE_MODULES, eagerlyCompiledChunk } from '../scripts/compile-hints';
import { bootstrapInterval, median, recordResult } from './stats';

const QUICK = process.env.BENCH_QUICK === '1';
const LOADS = QUICK ? 3 : 15;
const OUT = resolve(__dirname, '../.test-output/console-load');

/** The console's renderer as electron.vite.config.ts builds it, into `outDir`, with or without the hint. */
async function buildConsole(outDir: string, hinted: boolean): Promise<void> {
  const { build } = await import('vite');
  const renderer = config.renderer!;
  const plugins = (renderer.plugins as Plugin[]).filter((p) => p.name !== 'wsp-eagerly-compiled-chunk');
  await build({ ...renderer, configFile: false, logLevel: 'warn', plugins: [...plugins, eagerlyCompiledChunk('engine', ENGINE_MODULES, hinted)], build: { ...renderer.build, outDir, emptyOutDir: true } });
}

it('console load', async () => {
  await Promise.all([buildConsole(`${OUT}/hinted`, true), buildConsole(`${OUT}/lazy`, false)]);
  const logger = pino({ level: 'silent' });
  const [hinted, lazy] = await Promise.all([createRegistry({ webRoot: `${OUT}/hinted`, logger }), createRegistry({ webRoot: `${OUT}/lazy`, logger })]);
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const times = { hinted: [] as number[], lazy: [] as number[] };
  try {
    const load = async (url: string): Promise<number> => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(url, { waitUntil: 'load' });
        await page.waitForFunction(() => (document.querySelector('#app')?.childElementCount ?? 0) > 0);
        return await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).domContentLoadedEventEnd);
      } finally {
        await context.close();
      }
    };
    await load(hinted.httpUrl); // the browser's own first-page costs, in neither figure
    for (let i = 0; i < LOADS; i++) {
      const order = i % 2 ? (['lazy', 'hinted'] as const) : (['hinted', 'lazy'] as const);
      for (const kind of order) times[kind].push(await load(kind === 'hinted' ? hinted.httpUrl : lazy.httpUrl));
    }
  } finally {
    await browser.close();
    await Promise.all([hinted.close(), lazy.close()]);
  }
  console.log(`console load (ms to DOMContentLoaded): with the hint ${times.hinted.map((t) => t.toFixed(0)).join(', ')}; without ${times.lazy.map((t) => t.toFixed(0)).join(', ')}`);
  recordResult('console_load_ms', median(times.hinted), median(times.lazy), 'ms, navigation → DOMContentLoaded of the web console (baseline: the same build without the engine chunk\'s compile hint)', {
    higherIsBetter: false,
    interval: bootstrapInterval(times.hinted, times.lazy, (o, b) => median(o) / median(b)),
  });
});
