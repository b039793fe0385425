/**
 * The browsers users have: Chromium (Playwright) and Firefox (Debian's firefox-esr, driven over
 * WebDriver BiDi by puppeteer-core), consoles of both against one registry. Each pair links
 * direct, exchanges messages and a file byte-exact both ways, and falls back to the registry relay
 * when direct paths are blocked; the web console's startup check passes in both, and a browser
 * that lacks what the console needs is told what, at once.
 */
import type { Browser } from '@playwright/test';
import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { HARNESS_ROOT, buildHarness } from '../support/harness';
import { WEB_ROOT, WebConsole, assertWebConsoleBuilt } from '../support/web-console';
import { WsConsole, WsDriver } from '../support/workstream-console';
import { FIREFOX_MISSING, firefoxPath, launchFirefox, type Firefox } from '../support/firefox';

const MiB = 1024 * 1024;
const silent = pino({ level: 'silent' });

/** Each console shares `bytes` of random content; each downloads the other's, byte-exact (SHA-256); the log then holds `entriesAfter`. */
async function shareBothWays(a: WsDriver, b: WsDriver, bytes: number, entriesAfter: number): Promise<void> {
  const fromA = await a.call('shareRandom', bytes, 'from-a.bin');
  const fromB = await b.call('shareRandom', bytes, 'from-b.bin');
  for (const c of [a, b]) await expect.poll(() => c.call('size'), { timeout: 20_000 }).toBe(entriesAfter);
  await b.call('download', fromA.entryId);
  await a.call('download', fromB.entryId);
  await expect.poll(async () => (await b.call('fileStatus', fromA.entryId))?.state, { timeout: 30_000 }).toBe('complete');
  await expect.poll(async () => (await a.call('fileStatus', fromB.entryId))?.state, { timeout: 30_000 }).toBe('complete');
  expect(await b.call('fileSha', fromA.entryId)).toBe(fromA.sha);
  expect(await a.call('fileSha', fromB.entryId)).toBe(fromB.sha);
}
/** One registry serving the link harness, one serving the web console; Firefox may link on both origins. */
let harnessRegistry: RegistryHandle;
let webRegistry: RegistryHandle;
let firefoxLaunch: Promise<Firefox> | undefined;
let consoles: Array<{ close(): Promise<void> }> = [];

test.beforeAll(async () => {
  assertWebConsoleBuilt();
  await buildHarness();
  harnessRegistry = await createRegistry({ webRoot: HARNESS_ROOT, logger: silent, relayBudget: { pairBytesPerSecond: 1024 ** 3, projectBytesPerDay: 1024 ** 4 } });
  webRegistry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
});
test.afterEach(async () => {
  await Promise.all(consoles.map((c) => c.close()));
  consoles = [];
});
test.afterAll(async () => {
  await (await firefoxLaunch?.catch(() => undefined))?.close();
  await harnessRegistry?.close();
  await webRegistry?.close();
});

/** The one Firefox of this file, launched when a test first needs it. */
function firefox(): Promise<Firefox> {
  // Under CI=true a missing Firefox fails the test (.ci/run installs it); elsewhere it skips.
  test.skip(!firefoxPath() && !process.env.CI, FIREFOX_MISSING);
  return (firefoxLaunch ??= launchFirefox([harnessRegistry.httpUrl, webRegistry.httpUrl]));
}

type Kind = 'chromium' | 'firefox';
async function openWs(kind: Kind, browser: Browser): Promise<WsDriver> {
  const c = kind === 'chromium' ? await WsConsole.open(browser, harnessRegistry.httpUrl) : await WsDriver.openInFirefox(await firefox(), harnessRegistry.httpUrl);
  consoles.push(c);
  return c;
}

const linkState = async (from: WsDriver, to: WsDriver) => (await from.call('linkStates'))[to.peerId];

for (const [first, second] of [['firefox', 'chromium'], ['firefox', 'firefox']] as const) {
  test(`${first} ↔ ${second}: a direct link; messages and a 3 MiB file arrive byte-exact both ways`, async ({ browser }) => {
    const { link } = await harnessRegistry.createInvite({ project: `direct-${first}-${second}`, ttlMs: 3_600_000 });
    const a = await openWs(first, browser);
    const b = await openWs(second, browser);
    await a.join(link, 'Ada');
    await b.join(link, 'Bob');
    await expect.poll(() => linkState(a, b), { timeout: 20_000 }).toBe('direct');
    await expect.poll(() => linkState(b, a), { timeout: 20_000 }).toBe('direct');
    // The path each side reads from its own getStats(): a loopback host pair, IPv4 or IPv6 (two
    // Firefox pages gather both, and once in CI nominated the ::1 pair).
    for (const [x, y] of [[a, b], [b, a]] as const) expect(await x.call('linkPath', y.peerId)).toMatchObject({ kind: 'host', protocol: 'udp', local: expect.stringMatching(/^(127\.0\.0\.1|::1):\d+$/) });

    await Promise.all([a.call('post', 20, `from ${first}`), b.call('post', 20, `from ${second}`)]);
    await expect.poll(() => a.call('size'), { timeout: 20_000 }).toBe(40);
    await expect.poll(() => b.call('size'), { timeout: 20_000 }).toBe(40);
    expect(await b.call('ids')).toEqual(await a.call('ids'));

    await shareBothWays(a, b, 3 * MiB, 42);
    expect(await linkState(a, b)).toBe('direct'); // all of it direct
    for (const c of [a, b]) expect(await c.call('problems')).toEqual([]);
  });

  test(`${first} ↔ ${second}: with direct paths blocked the link falls back to the registry relay; messages and a file still arrive both ways`, async ({ browser }) => {
    const { link } = await harnessRegistry.createInvite({ project: `relay-${first}-${second}`, ttlMs: 3_600_000 });
    const config = { blockDirect: true, fallbackAfterMs: 1500, directRetry: { baseMs: 600_000, maxMs: 600_000 } };
    const a = await openWs(first, browser);
    const b = await openWs(second, browser);
    await a.join(link, 'Ada', { config });
    await b.join(link, 'Bob', { config });
    await expect.poll(() => linkState(a, b), { timeout: 20_000 }).toBe('relay');
    await expect.poll(() => linkState(b, a), { timeout: 20_000 }).toBe('relay');
    expect(await a.call('linkPath', b.peerId)).toMatchObject({ kind: 'registry-relay' });

    await Promise.all([a.call('post', 10, `from ${first}`), b.call('post', 10, `from ${second}`)]);
    await expect.poll(() => a.call('size'), { timeout: 20_000 }).toBe(20);
    await expect.poll(() => b.call('size'), { timeout: 20_000 }).toBe(20);
    await shareBothWays(a, b, 1 * MiB, 22);
    expect(await linkState(a, b)).toBe('relay');
  });
}

test('the web console starts in Chromium and in Firefox (its startup check passes in both), and the two link direct', async ({ browser }) => {
  const { link } = await webRegistry.createInvite({ project: 'web-matrix', ttlMs: 3_600_000 });
  const chromiumConsole = await WebConsole.open(browser, link);
  consoles.push(chromiumConsole);
  const { context, page } = await (await firefox()).openPage(link);
  consoles.push(context);

  await page.waitForSelector('[data-testid="registry-status"][data-phase="connected"]', { timeout: 20_000 });
  expect(await page.$('[data-testid="unsupported-browser"]')).toBeNull();
  await chromiumConsole.expectConnected();
  await expect(chromiumConsole.page.getByTestId('unsupported-browser')).toHaveCount(0);

  // Its peer id, from its "This console" dialog (one click from the header).
  await page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('header button')].find((b) => b.textContent?.trim() === 'This console')!.click());
  const firefoxId = await page.waitForSelector('[data-testid="own-peer-id"]').then((el) => el!.evaluate((e) => e.textContent!.trim()));
  const chromiumId = await chromiumConsole.peerId();
  await expect(chromiumConsole.peerRow(firefoxId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 20_000 });
  await page.waitForFunction((id) => document.querySelector(`tr[data-peer-id="${id}"] [data-col="state"]`)?.textContent === 'direct', { timeout: 20_000 }, chromiumId);
  // Both were admitted in one registry turn: each browser sent its hello with the upgrade.
  const metrics = await (await fetch(`${webRegistry.httpUrl}/metrics`)).text();
  expect(metrics).toMatch(/^wsp_registry_early_hellos_total\{result="accepted"\} 2$/m);
});

test('a browser without what the console needs is told at once what it lacks, instead of a console that never links', async ({ browser }) => {
  const lacking: Array<[string, () => void]> = [
    ['RTCPeerConnection', () => void delete (window as { RTCPeerConnection?: unknown }).RTCPeerConnection],
    [
      'RTCDataChannel bufferedAmountLowThreshold',
      () => {
        delete (RTCDataChannel.prototype as { bufferedAmountLowThreshold?: number }).bufferedAmountLowThreshold;
        delete (RTCDataChannel.prototype as { onbufferedamountlow?: unknown }).onbufferedamountlow;
      },
    ],
  ];
  const { link } = await webRegistry.createInvite({ project: 'web-lacking', ttlMs: 3_600_000 });
  for (const [feature, remove] of lacking) {
    const context = await browser.newContext();
    consoles.push(context);
    await context.addInitScript(remove);
    const page = await context.newPage();
    await page.goto(link);
    await expect(page.getByRole('alert')).toHaveText(`This browser cannot run the WSP Console: it lacks ${feature}. Use a current Chromium, Chrome, Edge or Firefox, or the desktop app.`);
    await expect(page.getByTestId('registry-status')).toHaveCount(0); // nothing started
  }
  expect(webRegistry.stats().consoles).toBe(0);
});
