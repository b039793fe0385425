/**
 * Every view and state of the console passes an automated accessibility audit (axe-core) with no
 * serious or critical violation, in the light and the dark theme; and its actions are reachable
 * by keyboard, with a visible focus.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { createRegistry } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, webConsoleScene } from '../support/web-console';
import { DesktopConsole } from '../support/desktop-console';

const silent = pino({ level: 'silent' });
const scene = webConsoleScene();

/** Audits the page as it is now, in both themes; fails listing each serious or critical violation. */
async function audit(page: Page, state: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await expect(page.locator('html')).toHaveAttribute('data-theme', scheme);
    const { violations } = await new AxeBuilder({ page }).analyze();
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `      ${n.target.join(' ')} — ${n.failureSummary?.replace(/\s+/g, ' ')}`).join('\n')}`);
    expect(report, `${state}, ${scheme} theme`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Tabs until `name` has the focus (at most `limit` presses), and checks that the focus is drawn. */
async function tabTo(page: Page, name: RegExp, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e || e === document.body) return undefined;
      const style = getComputedStyle(e);
      const label = e.getAttribute('aria-label') ?? (e as HTMLInputElement).labels?.[0]?.textContent ?? e.textContent ?? '';
      return { label: label.trim(), outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
    });
    if (focused && name.test(focused.label)) {
      expect(focused.outline, `a visible focus on "${focused.label}"`).toBe(true);
      return;
    }
  }
  throw new Error(`${name} was not reached with Tab`);
}

test('a web console: first run, a refused join, the project, peer details, the workstream with a task, and the dialogs pass axe in light and dark; all reachable by keyboard', async ({ browser }) => {
  test.setTimeout(180_000);
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const w = await WebConsole.open(browser, `${scene.registry.httpUrl}/`);
  scene.consoles.push(w);
  const page = w.page;
  await audit(page, 'first run');

  const { link: once } = await scene.registry.createInvite({ project: 'a11y', ttlMs: 3_600_000, maxUses: 1 });
  const first = await WebConsole.open(browser, once);
  scene.consoles.push(first);
  await first.expectConnected();
  await w.pasteInvite(once);
  await expect(w.status()).toHaveAttribute('data-phase', 'rejected');
  await audit(page, 'a refused join');

  // By keyboard alone: the invite field, Join, and then the project.
  const { link } = await scene.registry.createInvite({ project: 'a11y', ttlMs: 3_600_000 });
  await page.locator('body').focus();
  await tabTo(page, /^Invite link$/);
  await page.keyboard.insertText(link);
  await tabTo(page, /^Join$/);
  await page.keyboard.press('Enter');
  await w.expectConnected();
  const mate = await WebConsole.open(browser, link);
  scene.consoles.push(mate);
  const mateId = await mate.peerId();
  await expect(w.peerRow(mateId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 20_000 });
  await audit(page, 'the project: peers and graph');

  // A peer row is reached with Tab and opened with Enter.
  await page.locator('body').focus();
  await tabTo(page, new RegExp(`, direct`));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('peer-details')).toBeVisible();
  await audit(page, 'peer details');

  // The header's dialogs open from the keyboard, and Escape closes them.
  await page.locator('body').focus();
  await tabTo(page, /^Settings$/);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeVisible();
  await audit(page, 'the settings dialog');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await page.locator('body').focus();
  await tabTo(page, /^This console$/);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('dialog', { name: 'This console' })).toBeVisible();
  await audit(page, 'the dialog about this console');
  await page.keyboard.press('Escape');

  // The workstream, with a task, a message and a quiet relay line.
  await page.locator('body').focus();
  await tabTo(page, /^Workstream$/);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('tab', { name: 'Workstream' })).toHaveAttribute('aria-selected', 'true');
  await audit(page, 'an empty workstream');
  await page.getByLabel('New task').fill('Check the contrast');
  await page.getByLabel('New task').press('Enter');
  await page.getByLabel('Message').fill('hello');
  await page.getByRole('button', { name: 'Post' }).click();
  await expect(page.locator('.tasks li', { hasText: 'Check the contrast' }).getByRole('button', { name: 'Claim' })).toBeVisible();
  await page.locator('.tasks li', { hasText: 'Check the contrast' }).getByRole('button', { name: 'Claim' }).click();
  await expect(page.locator('.tasks li', { hasText: 'Check the contrast' }).getByRole('button', { name: 'Done' })).toBeVisible();
  await page.getByRole('tab', { name: 'Peers and links' }).click();
  await w.peerRow(mateId).click();
  await page.getByLabel('Force this link through the registry relay (diagnostics)').check();
  await expect(page.getByTestId('relay-warning')).toBeVisible({ timeout: 20_000 });
  await audit(page, 'a relayed link');
  await page.getByRole('tab', { name: 'Workstream' }).click();
  await audit(page, 'a workstream with a task of mine');
});

test('the desktop app: its first run and its registry dialog with an invite pass axe in light and dark', async ({ browser }) => {
  test.setTimeout(90_000);
  const desk = await DesktopConsole.launch(browser, { username: 'Dora' });
  scene.consoles.push(desk);
  await expect(desk.page.getByRole('button', { name: 'Start a project' })).toBeVisible();
  await audit(desk.page, 'desktop first run');
  await desk.useOwnRegistry();
  await desk.createInvite();
  await expect(desk.page.getByAltText('The invite link as a QR code')).toBeVisible();
  await audit(desk.page, 'the registry dialog with an invite');
});
