/**
 * A console of the soak: the workstream harness page (`window.wsHarness`) in Chromium (Playwright)
 * or Firefox (puppeteer-core). It keeps its identity across a reload (in the tab's
 * sessionStorage) and its workstream (in IndexedDB), as the web console does.
 */
import type { Browser } from '@playwright/test';
import type { WsHarness } from '../browser/harness/workstream';
import { assertHarnessSupported, openHarnessPage, readMissingFeatures } from '../support/harness';
import type { Firefox } from '../support/firefox';

type Fn<K extends keyof WsHarness> = WsHarness[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
const invokeInPage = ([n, a]: readonly [string, unknown[]]) => (window as unknown as { wsHarness: Record<string, (...x: unknown[]) => unknown> }).wsHarness[n]!(...a);

/** What the soak needs of a page, whichever browser holds it. */
interface PageDriver {
  invoke(call: readonly [string, unknown[]]): Promise<unknown>;
  /** Reloads and waits for the harness again. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/** What Playwright's and puppeteer's pages both offer. */
interface AnyPage {
  evaluate(fn: typeof invokeInPage, call: readonly [string, unknown[]]): Promise<unknown>;
  reload(): Promise<unknown>;
  waitForFunction(fn: () => boolean): Promise<unknown>;
}

function harnessPage(page: AnyPage, close: () => Promise<void>): PageDriver {
  return {
    invoke: (call) => page.evaluate(invokeInPage, call),
    reload: async () => {
      await page.reload();
      await page.waitForFunction(() => 'wsHarness' in window);
    },
    close,
  };
}

/** How every soak console joins: the product's reconnect backoff, its identity kept across reloads. */
const JOIN_OPTIONS = { keepIdentityAcrossReload: true, productBackoff: true } as const;

export class SoakConsole {
  peerId = '';
  private invite = '';
  private postingEveryMs: number | undefined;
  private constructor(
    readonly name: string,
    private readonly page: PageDriver,
  ) {}

  static async inChromium(browser: Browser, origin: string, name: string): Promise<SoakConsole> {
    const { context, page } = await openHarnessPage(browser, origin, 'wsHarness');
    return new SoakConsole(name, harnessPage(page, () => context.close()));
  }

  static async inFirefox(firefox: Firefox, origin: string, name: string): Promise<SoakConsole> {
    const { context, page } = await firefox.openPage(`${origin}/index.html`);
    await page.waitForFunction(() => 'wsHarness' in window);
    await assertHarnessSupported(() => page.evaluate(readMissingFeatures), 'Firefox');
    return new SoakConsole(name, harnessPage(page, () => context.close()));
  }

  call<K extends keyof WsHarness>(name: K, ...args: Parameters<Fn<K>>): ReturnType<Fn<K>> {
    return this.page.invoke([name, args]) as ReturnType<Fn<K>>;
  }

  async join(invite: string): Promise<void> {
    this.invite = invite;
    this.peerId = await this.call('join', invite, this.name, JOIN_OPTIONS);
  }

  /** Posts one message every `everyMs`, again after a reload, until `stopPosting`. */
  async startPosting(everyMs: number): Promise<void> {
    this.postingEveryMs = everyMs;
    await this.call('startPosting', everyMs, this.name);
  }

  /** Reloads the tab and joins again as the same console; it resumes posting. */
  async reload(): Promise<void> {
    await this.page.reload();
    const before = this.peerId;
    await this.join(this.invite);
    if (this.peerId !== before) throw new Error(`${this.name} came back from a reload as another console (${before} → ${this.peerId})`);
    if (this.postingEveryMs) await this.call('startPosting', this.postingEveryMs, `${this.name} after reload`);
  }

  close(): Promise<void> {
    return this.page.close();
  }
}
