/**
 * The web console opened over plain http at an address other than this machine's — a teammate's
 * browser reaching a registry on the LAN. There the page is not a secure context, so the browser
 * withholds WebCrypto: the console must still join, link, post and share files, with its
 * JavaScript fallbacks. (Chromium maps the made-up host name to loopback; nothing leaves it.)
 */
import { chromium, type Browser } from '@playwright/test';
import { test, expect } from '../support/test';
import pino from 'pino';
import { readFileSync } from 'node:fs';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, assertWebConsoleBuilt } from '../support/web-console';
import { CHROMIUM_ARGS, chromiumPath } from '../support/chromium';

const LAN_HOST = 'wsp-registry.lan.test';
let registry: RegistryHandle | undefined;
let browser: Browser | undefined;
let consoles: WebConsole[] = [];

test.beforeAll(assertWebConsoleBuilt);
test.afterEach(async () => {
  await Promise.all(consoles.map((c) => c.close()));
  consoles = [];
  await browser?.close();
  browser = undefined;
  await registry?.close();
  registry = undefined;
});

test('over plain http from another address (no WebCrypto), web consoles still join, link, post and share a file', async () => {
  test.setTimeout(120_000);
  browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`] });
  // A name the registry is reached by must be one of its own (DNS-rebinding defence): as an
  // operator would with --allowed-host (or --public-url).
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: pino({ level: 'silent' }), allowedHosts: [LAN_HOST] });
  const lanUrl = registry.httpUrl.replace('127.0.0.1', LAN_HOST);
  const { link } = await registry.createInvite({ project: 'lan', ttlMs: 3_600_000 });
  const lanLink = link.replace(registry.httpUrl, lanUrl);
  expect(lanLink).toContain(`http://${LAN_HOST}:`);

  const ada = await WebConsole.open(browser, lanLink);
  const bob = await WebConsole.open(browser, lanLink);
  consoles = [ada, bob];
  expect(await ada.page.evaluate(() => ({ secure: window.isSecureContext, subtle: Boolean(globalThis.crypto?.subtle) }))).toEqual({ secure: false, subtle: false });
  const errors: string[] = [];
  for (const c of consoles) c.page.on('pageerror', (error) => errors.push(error.message));

  await ada.expectConnected();
  await bob.expectConnected();
  // Direct or, where this browser hides host addresses from an insecure page, the registry relay.
  await expect(ada.peerRow(await bob.peerId()).locator('[data-col="state"]')).toHaveText(/direct|relay/, { timeout: 30_000 });

  await ada.page.getByRole('tab', { name: 'Workstream' }).click();
  await bob.page.getByRole('tab', { name: 'Workstream' }).click();
  await ada.page.getByLabel('Message').fill('Posted from a plain-http page.');
  await ada.page.getByRole('button', { name: 'Post' }).click();
  await expect(bob.page.getByTestId('workstream-log').locator('li[data-kind="message"]')).toContainText('Posted from a plain-http page.', { timeout: 20_000 });

  const content = Buffer.alloc(300 * 1024);
  for (let i = 0; i < content.length; i++) content[i] = (i * 13 + 5) & 0xff;
  await ada.page.getByLabel('Share a file').setInputFiles({ name: 'notes.bin', mimeType: 'application/octet-stream', buffer: content });
  const bobsFile = bob.page.getByTestId('workstream-log').locator('li[data-kind="file"]');
  await expect(bobsFile).toContainText('notes.bin', { timeout: 20_000 });
  await bobsFile.getByRole('button', { name: 'Download' }).click();
  await expect(bobsFile.getByRole('button', { name: 'Save' })).toBeVisible({ timeout: 30_000 });
  const [download] = await Promise.all([bob.page.waitForEvent('download'), bobsFile.getByRole('button', { name: 'Save' }).click()]);
  expect(readFileSync((await download.path())!).equals(content)).toBe(true);
  expect(errors).toEqual([]);
});
