/**
 * A headless agent (openAgent: the engine in Node over node-datachannel, its data in a directory)
 * and a web console in Chromium, driven as a person would, in one project: the link, messages,
 * tasks and files both ways, and the registry relay when no direct path is allowed. The agent runs
 * in this Playwright process; `npm test`'s namespace has loopback only, so it gathers on 127.0.0.1.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, assertWebConsoleBuilt } from '../support/web-console';
import { openAgent, type Agent } from '../../src-agent/agent';
import type { LinkConfig } from '../../src-renderer/engine/link/peer-link';
import type { Entry } from '../../src-shared/workstream/entry';

const silent = pino({ level: 'silent' });
const { version } = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
// The build (electron.vite.config.ts) and vitest define the package version the agent reports in
// presence; Playwright runs the source without that step, so it is given here (read when the agent opens).
(globalThis as { __APP_VERSION__?: string }).__APP_VERSION__ = version;

let registry: RegistryHandle | undefined;
let consoles: WebConsole[] = [];
let agent: Agent | undefined;
let dir: string | undefined;

test.beforeAll(assertWebConsoleBuilt);
test.afterEach(async () => {
  await agent?.close();
  await Promise.all(consoles.map((c) => c.close()));
  await registry?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  [agent, consoles, registry, dir] = [undefined, [], undefined, undefined];
});

const log = (w: WebConsole) => w.page.getByTestId('workstream-log');
const openWorkstream = (w: WebConsole) => w.page.getByRole('tab', { name: 'Workstream' }).click();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const text = (e: Entry) => (e.body as { text?: unknown }).text;

/** A registry serving the web console, Ada's console in Chromium, and build-bot, a Node agent. */
async function project(browser: import('@playwright/test').Browser, name: string, linkConfig?: Partial<LinkConfig>) {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: name, ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  consoles = [ada];
  await ada.rename('Ada');
  const adaId = await ada.peerId();
  dir = mkdtempSync(join(tmpdir(), 'wsp-agent-console-'));
  agent = await openAgent({ dataDir: join(dir, 'data'), invite: link, name: 'build-bot', bindAddress: '127.0.0.1', ...(linkConfig ? { linkConfig } : {}) });
  // What reached the agent from the console, as its `entry` events announce it.
  const received: Entry[] = [];
  agent.on('entry', ({ entry }) => entry.author === adaId && received.push(entry));
  return { ada, adaId, agent, received, dir };
}

async function post(w: WebConsole, message: string) {
  await w.page.getByLabel('Message').fill(message);
  await w.page.getByRole('button', { name: 'Post' }).click();
}

test('an agent and a web console: a direct link, shown as an agent; messages, tasks and files both ways, byte-exact', async ({ browser }) => {
  test.setTimeout(90_000);
  const { ada, adaId, agent, received, dir } = await project(browser, 'agent-console');
  const linkAtAgent = () => agent.peers().find((p) => p.peerId === adaId)?.link;

  // The console's peer row: linked directly, marked as an agent with its software and version.
  const row = ada.peerRow(agent.peerId);
  await expect(row.locator('[data-col="state"]')).toHaveText('direct', { timeout: 30_000 });
  await expect(row.locator('[data-col="path"]')).toHaveText(/^direct \(/);
  await expect(row).toContainText('build-bot');
  await expect(row.getByTestId('agent-badge')).toHaveText(`⚙ agent · wsp-agent ${version}`);
  await expect.poll(linkAtAgent).toBe('direct');
  await openWorkstream(ada);

  // Messages both ways.
  await post(ada, 'Ada here: is the nightly green?');
  await expect.poll(() => received.filter((e) => e.kind === 'message').map(text), { timeout: 20_000 }).toEqual(['Ada here: is the nightly green?']);
  await agent.post('build #42 passed');
  const botsMessage = log(ada).locator('li[data-kind="message"]', { hasText: 'build #42 passed' });
  await expect(botsMessage).toHaveCount(1, { timeout: 20_000 });
  await expect(botsMessage).toContainText('build-bot');

  // A task the agent creates, claimed in the GUI: the agent sees Ada's claim.
  const botsTask = await agent.tasks.create('Bisect the flaky link test');
  const botsTaskRow = ada.page.locator('.tasks li', { hasText: 'Bisect the flaky link test' });
  await expect(botsTaskRow).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  await botsTaskRow.getByRole('button', { name: 'Claim' }).click();
  await expect.poll(() => agent.tasks.list().find((t) => t.id === botsTask.id), { timeout: 20_000 }).toMatchObject({ state: 'claimed', owner: adaId });
  await expect(botsTaskRow).toContainText('by \u2068Ada\u2069');

  // A task created in the GUI, claimed, progressed and finished by the agent: the GUI shows each step.
  await ada.page.getByLabel('New task').fill('Rebuild the cache');
  await ada.page.getByRole('button', { name: 'Create task' }).click();
  const findAdasTask = () => agent.tasks.list().find((t) => t.title === 'Rebuild the cache');
  await expect.poll(findAdasTask, { timeout: 20_000 }).toBeTruthy();
  const adasTask = findAdasTask()!;
  const adasTaskRow = ada.page.locator('.tasks li', { hasText: 'Rebuild the cache' });
  await agent.tasks.claim(adasTask.id);
  await expect(adasTaskRow).toHaveAttribute('data-state', 'claimed', { timeout: 20_000 });
  await expect(adasTaskRow).toContainText('by \u2068build-bot\u2069');
  await agent.tasks.progress(adasTask.id, 40, 'warming up');
  await expect(adasTaskRow).toHaveAttribute('data-state', 'progress', { timeout: 20_000 });
  await expect(adasTaskRow).toContainText('40 %');
  await agent.tasks.done(adasTask.id, 'cache rebuilt');
  await expect(adasTaskRow).toHaveCount(0, { timeout: 20_000 }); // done: no longer open
  await expect(log(ada).locator('li[data-kind="task"]').first()).toHaveText(/build-bot.*Rebuild the cache → done — cache rebuilt/s);

  // A file the agent shares, downloaded and saved in the GUI: the same bytes.
  const report = randomBytes(1536 * 1024);
  const reportPath = join(dir, 'report.bin');
  writeFileSync(reportPath, report);
  await agent.share(reportPath);
  const adasFile = log(ada).locator('li[data-kind="file"]', { hasText: 'report.bin' });
  await expect(adasFile).toContainText('1.5 MiB', { timeout: 20_000 });
  await adasFile.getByRole('button', { name: 'Download' }).click();
  await expect(adasFile.getByRole('button', { name: 'Save' })).toBeVisible({ timeout: 30_000 });
  const [download] = await Promise.all([ada.page.waitForEvent('download'), adasFile.getByRole('button', { name: 'Save' }).click()]);
  expect(download.suggestedFilename()).toBe('report.bin');
  expect(sha256(readFileSync((await download.path())!))).toBe(sha256(report));

  // A file shared in the GUI, downloaded by the agent: the same bytes; the GUI says it sent it.
  const trace = randomBytes(1200 * 1024);
  await ada.page.getByLabel('Share a file').setInputFiles({ name: 'trace.bin', mimeType: 'application/octet-stream', buffer: trace });
  await expect.poll(() => received.find((e) => e.kind === 'file'), { timeout: 20_000 }).toBeTruthy();
  const fileEntry = received.find((e) => e.kind === 'file')!;
  expect((fileEntry.body as { name: string }).name).toBe('trace.bin');
  const out = join(dir, 'trace-copy.bin');
  await agent.download(fileEntry.id, out);
  expect(sha256(readFileSync(out))).toBe(sha256(trace));
  await expect(log(ada).locator('li[data-kind="file"]', { hasText: 'trace.bin' })).toContainText(/sent 1\.2 MiB to 1 console/, { timeout: 20_000 });
  expect(linkAtAgent()).toBe('direct'); // all of it over the direct link
});

test('with direct paths blocked, the agent and the web console link over the registry relay and messages arrive both ways', async ({ browser }) => {
  test.setTimeout(60_000);
  const { ada, adaId, agent, received } = await project(browser, 'agent-console-relay', { blockDirect: true, fallbackAfterMs: 1500 });
  const row = ada.peerRow(agent.peerId);
  await expect(row).toContainText('build-bot', { timeout: 20_000 });
  // The console goes through the relay too, as a person would make it (the peer's details).
  await row.click();
  await ada.page.getByLabel('Force this link through the registry relay (diagnostics)').check();
  await expect(row.locator('[data-col="state"]')).toHaveText('relay', { timeout: 20_000 });
  await expect(row.locator('[data-col="path"]')).toHaveText('registry relay');
  await expect(row.getByTestId('agent-badge')).toBeVisible();
  await expect(ada.page.getByTestId('relay-warning')).toBeVisible();
  const linkAtAgent = () => agent.peers().find((p) => p.peerId === adaId)?.link;
  await expect.poll(linkAtAgent, { timeout: 20_000 }).toBe('relay');
  await openWorkstream(ada);

  await post(ada, 'over the relay from Ada');
  await expect.poll(() => received.filter((e) => e.kind === 'message').map(text), { timeout: 20_000 }).toEqual(['over the relay from Ada']);
  await agent.post('over the relay from build-bot');
  await expect(log(ada).locator('li[data-kind="message"]', { hasText: 'over the relay from build-bot' })).toHaveCount(1, { timeout: 20_000 });
  expect(linkAtAgent()).toBe('relay'); // still relayed: no direct path slipped in
});
