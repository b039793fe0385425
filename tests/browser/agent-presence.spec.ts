/**
 * Presence says what a peer is: a console (a person) or an agent (a program) with its software and
 * version (`hello.client`, docs/PROTOCOL.md §4.1). The web console shows an agent as one in the
 * peer list and the connection graph; the agent sees the web console describe itself as
 * `wsp-console` at the package's version. The agent here is the workstream harness (the real
 * engine, no GUI) joining with `kind: 'agent'`, served beside the web console.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, assertWebConsoleBuilt } from '../support/web-console';
import { HARNESS_ROOT, buildHarness } from '../support/harness';
import { WsConsole } from '../support/workstream-console';
import { screenshot } from '../support/screenshots';

const silent = pino({ level: 'silent' });
const { version } = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };

test.beforeAll(assertWebConsoleBuilt);

test('an agent shows as an agent (badge with its software and version, its details, a diamond in the graph, "(agent)" in the link list); an older console without a descriptor shows as a console; the agent sees the web console as wsp-console', async ({ browser }) => {
  test.setTimeout(120_000);
  await buildHarness();
  const root = mkdtempSync(join(tmpdir(), 'wsp-web-and-harness-'));
  cpSync(WEB_ROOT, root, { recursive: true });
  cpSync(HARNESS_ROOT, join(root, 'harness'), { recursive: true });
  let registry: RegistryHandle | undefined;
  const closers: Array<{ close(): Promise<void> }> = [];
  try {
    registry = await createRegistry({ webRoot: root, logger: silent });
    const { link } = await registry.createInvite({ project: 'agents', ttlMs: 3_600_000 });
    const ada = await WebConsole.open(browser, link);
    closers.push(ada);
    await ada.rename('Ada');
    const adaId = await ada.peerId();
    const bot = await WsConsole.open(browser, `${registry.httpUrl}/harness`);
    closers.push(bot);
    const botId = await bot.join(link, 'build-bot', { client: { kind: 'agent', software: 'build-bot', version: '0.1.0' } });
    const old = await WsConsole.open(browser, `${registry.httpUrl}/harness`);
    closers.push(old);
    const oldId = await old.join(link, 'Old');

    // The peer list: an agent badge on the agent's row only, its software and version read out
    // always and shown on hover or focus.
    const botRow = ada.peerRow(botId);
    await expect(botRow.locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
    const badge = botRow.getByTestId('agent-badge');
    await expect(badge).toHaveText(/^⚙ agent · build-bot 0\.1\.0$/);
    await expect(badge).toHaveAttribute('title', /build-bot 0\.1\.0/);
    const details = badge.locator('.agent-software');
    expect((await details.boundingBox())?.width ?? 0).toBeLessThanOrEqual(1);
    await badge.focus();
    expect((await details.boundingBox())?.width ?? 0).toBeGreaterThan(40);
    await expect(ada.peerRow(oldId)).toBeVisible();
    await expect(ada.peerRow(oldId).getByTestId('agent-badge')).toHaveCount(0);

    // The peer's details say what it runs.
    await botRow.click();
    await expect(ada.page.getByTestId('peer-client')).toHaveText('an agent: build-bot 0.1.0 (as it describes itself)');
    await ada.peerRow(oldId).click();
    await expect(ada.page.getByTestId('peer-client')).toHaveText('a console');

    // The graph: a legend entry for agents, and the link list says which end is an agent.
    await expect(ada.page.getByTestId('graph-legend')).toContainText('agent');
    const edges = ada.page.getByTestId('graph-edges');
    await expect(edges.locator(`li[data-edge*="${botId}"][data-edge*="${adaId}"]`)).toHaveText(/\u2068build-bot\u2069 #[a-z2-7]{4} \(agent\)/, { timeout: 20_000 });
    await expect(edges.locator(`li[data-edge*="${oldId}"][data-edge*="${adaId}"]`)).not.toContainText('(agent)');

    // The other way: the web console says it is a console, this build of wsp-console.
    expect(await bot.call('peerClient', adaId)).toEqual({ kind: 'console', software: 'wsp-console', version });
    expect(await bot.call('peerClient', oldId)).toBeNull();
    await badge.focus();
    await screenshot(ada, 'agent-presence');
  } finally {
    await Promise.all(closers.map((c) => c.close()));
    await registry?.close();
    rmSync(root, { recursive: true, force: true });
  }
});
