/** Builds the link harness page (tests/browser/harness) and drives it from Playwright. */
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { resolve } from 'node:path';
import type { Harness } from '../browser/harness/main';
import type { LinkConfig } from '../../src-renderer/engine/link/peer-link';
import { watchPageNoise } from './page-noise';
import { ENGINE_MODULES, eagerlyCompiledChunk } from '../../scripts/compile-hints';

export const HARNESS_ROOT = resolve(__dirname, '../../.test-output/harness');

// No parameters: Playwright runs it as a hook (`test.beforeAll(buildHarness)`), and a hook's first
// parameter must be a fixtures object.
export function buildHarness(): Promise<void> {
  return buildHarnessTo(HARNESS_ROOT);
}

/** Builds the harness into another folder (the NAT lab serves its own copy). */
export async function buildHarnessTo(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    root: resolve(__dirname, '../browser/harness'),
    base: './',
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, minify: false },
    // As the console is built (BENCH_COMPILE_HINTS=0: the engine compiled lazily, for comparison).
    plugins: [eagerlyCompiledChunk('engine', ENGINE_MODULES, process.env.BENCH_COMPILE_HINTS !== '0')],
  });
}

/** The harness page in a fresh browser context (own storage), once `window[api]` is there. */
export async function openHarnessPage(browser: Browser, origin: string, api: 'harness' | 'wsHarness'): Promise<{ context: BrowserContext; page: Page }> {
  // Loopback candidates are only gathered for an origin with camera/microphone permission.
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const watched = await watchPageNoise(context);
  const page = await context.newPage();
  if (!watched) page.on('pageerror', (error) => console.error(`[harness page error] ${error.message}`));
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction((name) => name in window, api);
  await assertHarnessSupported(() => page.evaluate(readMissingFeatures), 'Chromium');
  return { context, page };
}

/** In the harness page: what the console's startup check found missing. */
export const readMissingFeatures = () => (window as unknown as { browserSupport: { missing: string[] } }).browserSupport.missing;

/**
 * Fails at once, naming what is missing, when the browser fails the console's startup check
 * (src-renderer/engine/browser-support.ts): otherwise a test would only time out waiting for a link.
 */
export async function assertHarnessSupported(read: () => Promise<string[]>, browserName: string): Promise<void> {
  const missing = await read();
  if (missing.length) throw new Error(`${browserName} cannot run the console: it lacks ${missing.join(', ')}`);
}

type Fn<K extends keyof Harness> = Harness[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

/** One console running the harness in its own browser context. */
export class HarnessConsole {
  peerId = '';
  private constructor(readonly context: BrowserContext, readonly page: Page) {}

  static async open(browser: Browser, origin: string): Promise<HarnessConsole> {
    const { context, page } = await openHarnessPage(browser, origin, 'harness');
    return new HarnessConsole(context, page);
  }

  call<K extends keyof Harness>(name: K, ...args: Parameters<Fn<K>>): ReturnType<Fn<K>> {
    return this.page.evaluate(([n, a]) => (window as unknown as { harness: Record<string, (...x: unknown[]) => unknown> }).harness[n as string]!(...(a as unknown[])), [name, args] as const) as ReturnType<Fn<K>>;
  }

  async join(link: string, name: string, config: Partial<LinkConfig> = {}, mode: 'engine' | 'raw' = 'engine', options: { prepareConnections?: boolean } = {}): Promise<string> {
    this.peerId = await this.call('join', link, name, config, mode, options);
    return this.peerId;
  }

  async waitForState(peerId: string, states: string[], timeout = 20_000): Promise<string> {
    let state = '';
    await expect
      .poll(async () => (state = (await this.call('snapshot', peerId))?.state ?? 'none'), { timeout, intervals: [50, 100, 250] })
      .toMatch(new RegExp(`^(${states.join('|')})$`));
    return state;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
