/** Page objects for the web console, as a user sees it (labels and roles, not internals). */
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { watchPageNoise } from './page-noise';
import { test } from './test';
import type { RegistryHandle } from '../../src-main/registry/registry';

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

  /** This console's peer id, as its "This console" dialog shows it (opened and closed again). */
  async peerId(): Promise<string> {
    return this.fromDetails('own-peer-id', /^[a-z2-7]{26}$/);
  }

  /** This console's key fingerprint, from its "This console" dialog. */
  async fingerprint(): Promise<string> {
    return this.fromDetails('own-fingerprint', /^([a-z2-7]{4} ){5}[a-z2-7]{4}$/);
  }

  private async fromDetails(testId: string, shape: RegExp): Promise<string> {
    const wasOpen = await this.page.getByRole('dialog', { name: 'This console' }).isVisible();
    if (!wasOpen) await this.openDialog('This console');
    const field = this.page.getByRole('dialog').getByTestId(testId);
    await expect(field).toHaveText(shape);
    const text = (await field.textContent())!;
    if (!wasOpen) await this.closeDialog();
    return text;
  }

  /** Opens one of the header's dialogs ("Settings", "This console", "Invite people"). */
  async openDialog(name: 'Settings' | 'This console' | 'Invite people' | 'Your registry'): Promise<void> {
    await this.page.getByRole('banner').getByRole('button', { name, exact: true }).click();
    await expect(this.page.getByRole('dialog')).toBeVisible();
  }

  async closeDialog(): Promise<void> {
    await this.page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();
    await expect(this.page.getByRole('dialog')).toHaveCount(0);
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

/** What a spec's test opens: a registry and web consoles (a desktop console is one too). */
export interface WebConsoleScene {
  registry?: RegistryHandle;
  consoles: WebConsole[];
}

/**
 * A spec of web consoles: checks the console is built before its tests, and closes what each test
 * opened (`scene.registry`, `scene.consoles`) after it, whether it passed or not.
 */
export function webConsoleScene(): WebConsoleScene {
  const scene: WebConsoleScene = { consoles: [] };
  test.beforeAll(assertWebConsoleBuilt);
  test.afterEach(async () => {
    await Promise.all(scene.consoles.map((c) => c.close()));
    scene.consoles = [];
    await scene.registry?.close();
    delete scene.registry;
  });
  return scene;
}
