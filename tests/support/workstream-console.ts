/** Drives `window.wsHarness` (tests/browser/harness/workstream.ts) in Chromium (Playwright) or Firefox (puppeteer-core). */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { WsHarness } from '../browser/harness/workstream';
import { openHarnessPage, assertHarnessSupported, readMissingFeatures } from './harness';
import type { Firefox } from './firefox';

type Fn<K extends keyof WsHarness> = WsHarness[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
/** Runs `window.wsHarness[name](...args)` in the page. */
type Invoke = (call: readonly [string, unknown[]]) => Promise<unknown>;
const invokeInPage = ([n, a]: readonly [string, unknown[]]) => (window as unknown as { wsHarness: Record<string, (...x: unknown[]) => unknown> }).wsHarness[n]!(...a);

/** A workstream console in either browser: what a spec needs that does not depend on which. */
export class WsDriver {
  peerId = '';
  protected constructor(
    private readonly invoke: Invoke,
    readonly close: () => Promise<void>,
  ) {}

  /** A console in a fresh Firefox browser context (own IndexedDB). */
  static async openInFirefox(firefox: Firefox, origin: string): Promise<WsDriver> {
    const { context, page } = await firefox.openPage(`${origin}/index.html`);
    await page.waitForFunction(() => 'wsHarness' in window);
    await assertHarnessSupported(() => page.evaluate(readMissingFeatures), 'Firefox');
    return new WsDriver((call) => page.evaluate(invokeInPage, call), () => context.close());
  }

  call<K extends keyof WsHarness>(name: K, ...args: Parameters<Fn<K>>): ReturnType<Fn<K>> {
    return this.invoke([name, args]) as ReturnType<Fn<K>>;
  }

  async join(link: string, name: string, options: Parameters<WsHarness['join']>[2] = {}): Promise<string> {
    this.peerId = await this.call('join', link, name, options);
    return this.peerId;
  }
}

/** A workstream console in a Chromium (Playwright) browser context. */
export class WsConsole extends WsDriver {
  private constructor(readonly context: BrowserContext, readonly page: Page) {
    super((call) => page.evaluate(invokeInPage, call), () => context.close());
  }

  /** A console in its own browser context (own IndexedDB). */
  static async open(browser: Browser, origin: string): Promise<WsConsole> {
    const { context, page } = await openHarnessPage(browser, origin, 'wsHarness');
    return new WsConsole(context, page);
  }
}
