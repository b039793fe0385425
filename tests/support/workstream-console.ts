/** Drives `window.wsHarness` (tests/browser/harness/workstream.ts) from Playwright. */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { WsHarness } from '../browser/harness/workstream';
import { openHarnessPage } from './harness';

type Fn<K extends keyof WsHarness> = WsHarness[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

export class WsConsole {
  peerId = '';
  private constructor(readonly context: BrowserContext, readonly page: Page) {}

  /** A console in its own browser context (own IndexedDB). */
  static async open(browser: Browser, origin: string): Promise<WsConsole> {
    const { context, page } = await openHarnessPage(browser, origin, 'wsHarness');
    return new WsConsole(context, page);
  }

  call<K extends keyof WsHarness>(name: K, ...args: Parameters<Fn<K>>): ReturnType<Fn<K>> {
    return this.page.evaluate(([n, a]) => (window as unknown as { wsHarness: Record<string, (...x: unknown[]) => unknown> }).wsHarness[n as string]!(...(a as unknown[])), [name, args] as const) as ReturnType<Fn<K>>;
  }

  async join(link: string, name: string, options: Parameters<WsHarness['join']>[2] = {}): Promise<string> {
    this.peerId = await this.call('join', link, name, options);
    return this.peerId;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
