/** Page objects for the web console, as a user sees it (labels and roles, not internals). */
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { watchPageNoise } from './page-noise';

export const WEB_ROOT = resolve(__dirname, '../../out/renderer');

export function assertWebConsoleBuilt(): void {
  if (!existsSync(resolve(WEB_ROOT, 'index.html'))) throw new Error('out/renderer is missing: run `npm run build` first');
}

export class WebConsole {
  protected constructor(readonly context: BrowserContext, readonly page: Page) {}

  /** A console in its own browser context (own storage, so its own identity). */
  static async open(browser: Browser, url: string): Promise<WebConsole> {
    // Inside the loopback-only test namespace, Chromium gathers ICE candidates only for an origin
    // with camera/microphone permission (the console itself never asks for either).
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    await watchPageNoise(context);
    const page = await context.newPage();
    await page.goto(url);
    return new WebConsole(context, page);
  }

  status() {
    return this.page.getByTestId('registry-status');
  }

  async peerId(): Promise<string> {
    const id = this.page.getByTestId('own-peer-id');
    await expect(id).toHaveText(/^[a-z2-7]{26}$/);
    return (await id.textContent())!;
  }

  async pasteInvite(link: string): Promise<void> {
    await this.page.getByLabel('Invite link').fill(link);
    await this.page.getByRole('button', { name: 'Join', exact: true }).click();
  }

  async rename(name: string): Promise<void> {
    await this.page.getByTitle('Change your display name').click();
    await this.page.getByRole('banner').getByLabel('Display name').fill(name);
    await this.page.getByRole('banner').getByRole('button', { name: 'Save', exact: true }).click();
  }

  peerRow(peerId: string) {
    return this.page.locator(`tr[data-peer-id="${peerId}"]`);
  }

  async expectConnected(): Promise<void> {
    await expect(this.status()).toHaveAttribute('data-phase', 'connected');
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
