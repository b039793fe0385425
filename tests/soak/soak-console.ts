/**
 * A console of the soak: the workstream harness page (`window.wsHarness`) in a browser, whatever
 * drives it. It keeps its identity across a reload (in the tab's sessionStorage) and its
 * workstream (in IndexedDB), as the web console does.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import type { WsHarness } from '../browser/harness/workstream';
import { openHarnessPage } from '../support/harness';

type Fn<K extends keyof WsHarness> = WsHarness[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

export interface SoakConsole {
  readonly name: string;
  readonly peerId: string;
  call<K extends keyof WsHarness>(name: K, ...args: Parameters<Fn<K>>): ReturnType<Fn<K>>;
  join(invite: string): Promise<void>;
  /** Posts one message every `everyMs`, again after a reload, until `stopPosting`. */
  startPosting(everyMs: number): Promise<void>;
  /** Reloads the tab and joins again as the same console; it resumes posting. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/** How every soak console joins: the product's reconnect backoff, its identity kept across reloads. */
export const JOIN_OPTIONS = { keepIdentityAcrossReload: true, productBackoff: true } as const;

class ChromiumConsole implements SoakConsole {
  peerId = '';
  private invite = '';
  private postingEveryMs: number | undefined;
  constructor(
    readonly name: string,
    private readonly context: BrowserContext,
    private readonly page: Page,
  ) {}

  call<K extends keyof WsHarness>(name: K, ...args: Parameters<Fn<K>>): ReturnType<Fn<K>> {
    return this.page.evaluate(([n, a]) => (window as unknown as { wsHarness: Record<string, (...x: unknown[]) => unknown> }).wsHarness[n as string]!(...(a as unknown[])), [name, args] as const) as ReturnType<Fn<K>>;
  }

  async join(invite: string): Promise<void> {
    this.invite = invite;
    this.peerId = await this.call('join', invite, this.name, JOIN_OPTIONS);
  }

  async startPosting(everyMs: number): Promise<void> {
    this.postingEveryMs = everyMs;
    await this.call('startPosting', everyMs, this.name);
  }

  async reload(): Promise<void> {
    await this.page.reload();
    await this.page.waitForFunction(() => 'wsHarness' in window);
    const before = this.peerId;
    await this.join(this.invite);
    if (this.peerId !== before) throw new Error(`${this.name} came back from a reload as another console (${before} → ${this.peerId})`);
    if (this.postingEveryMs) await this.call('startPosting', this.postingEveryMs, `${this.name} after reload`);
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

export async function openChromiumConsole(browser: Browser, origin: string, name: string): Promise<SoakConsole> {
  const { context, page } = await openHarnessPage(browser, origin, 'wsHarness');
  return new ChromiumConsole(name, context, page);
}
