/**
 * The console as a person meets it (issue #18): a first-run screen before a project, the project
 * as the page after, refusals in words, a peer table that never wraps, tasks whose controls follow
 * their state and owner, the relay said quietly or loudly by what it costs, and a link's problems
 * on that peer's row at both ends. Each step asserts what is on the screen.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import type { Locator } from '@playwright/test';
import { createRegistry } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, webConsoleScene } from '../support/web-console';
import { LOOKS, screenshots } from '../support/screenshots';
import { DesktopConsole } from '../support/desktop-console';

const silent = pino({ level: 'silent' });
const scene = webConsoleScene();

const [LIGHT, DARK] = [LOOKS[0]!, LOOKS[1]!];

/** One line of text: the element is no taller than its line height allows (plus padding). */
async function expectOneLine(element: Locator, maxPx: number): Promise<void> {
  const box = await element.boundingBox();
  expect(box, 'on the page').not.toBeNull();
  expect(box!.height, 'one line').toBeLessThanOrEqual(maxPx);
}

const header = (w: WebConsole) => w.page.getByRole('banner');
const taskRow = (w: WebConsole, title: string) => w.page.locator('.tasks li', { hasText: title });

test('first run and a refused join: one obvious step, the refusal in words with what to do, no "Leave"; settings and this console one click away', async ({ browser }) => {
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const w = await WebConsole.open(browser, `${scene.registry.httpUrl}/`);
  scene.consoles.push(w);

  // Before a project: the page is the way in, not a project with empty panels.
  await expect(w.page.getByRole('heading', { name: 'Join your team’s project' })).toBeVisible();
  const joinBox = w.page.getByRole('region', { name: 'Join with an invite' });
  await expect(joinBox.getByRole('button', { name: 'Join', exact: true })).toBeDisabled();
  await expect(w.page.getByRole('button', { name: /^Leave/ })).toHaveCount(0);
  await expect(w.page.getByRole('region', { name: /^Peers/ })).toHaveCount(0);
  await expect(w.status()).toContainText('Not in a project');
  await expectOneLine(header(w), 60);
  await screenshots(w, 'first-run-web', [LIGHT, DARK]);

  // Settings and this console's details: one click from the header, and closed again.
  await w.openDialog('Settings');
  await expect(w.page.getByRole('dialog', { name: 'Settings' }).getByLabel('Theme')).toBeVisible();
  await w.closeDialog();
  await w.openDialog('This console');
  await expect(w.page.getByRole('dialog', { name: 'This console' })).toContainText('web console');
  await w.page.keyboard.press('Escape');
  await expect(w.page.getByRole('dialog')).toHaveCount(0);
  // A name the console refuses is said where it was typed.
  await w.rename('   ');
  await expect(header(w).getByRole('alert')).toContainText('Name not saved');
  await expectOneLine(header(w), 60);
  await header(w).getByLabel('Display name').fill('Wendy');
  await header(w).getByRole('button', { name: 'Save', exact: true }).click();
  await expect(header(w).getByRole('alert')).toHaveCount(0);
  await expect(w.page.getByTitle('Change your display name')).toHaveText('Wendy');

  // An invite that was used up: said in words, with what to do; nothing of a project is shown.
  const { link } = await scene.registry.createInvite({ project: 'ux', ttlMs: 3_600_000, maxUses: 1 });
  const first = await WebConsole.open(browser, link);
  scene.consoles.push(first);
  await first.expectConnected();
  await w.pasteInvite(link);
  await expect(w.status()).toHaveAttribute('data-phase', 'rejected');
  await expect(w.status()).toContainText('Refused');
  await expect(w.page.getByRole('heading', { name: 'This invite has been used up' })).toBeVisible();
  await expect(w.page.getByTestId('join-refused')).toHaveText(/already joined with it\. Ask for a new invite link\./);
  await expect(w.page.getByText('INVITE_EXHAUSTED')).toHaveCount(0);
  await expect(w.page.getByRole('button', { name: /^Leave/ })).toHaveCount(0);
  await expect(w.page.getByText(/No teammates online yet/)).toHaveCount(0);
  // The way on is right there: another invite.
  await expect(joinBox.getByLabel('Invite link')).toBeEditable();
  await screenshots(w, 'join-refused', [LIGHT, DARK]);

  // Another invite with a problem of its own (expired): that problem alone is said, not the last one's too.
  const { link: expired } = await scene.registry.createInvite({ project: 'ux', ttlMs: 1 });
  await w.page.waitForTimeout(2100); // its expiry is the next whole second after the next
  await w.pasteInvite(expired);
  await expect(joinBox.getByRole('alert')).toHaveText('this invite has expired: ask for a new one');
  await expect(w.page.getByRole('heading', { name: 'This invite has been used up' })).toHaveCount(0);
  await expect(w.page.getByTestId('join-refused')).toHaveCount(0);
  await expect(w.page.getByRole('heading', { name: 'Join your team’s project' })).toBeVisible();

  const { link: fresh } = await scene.registry.createInvite({ project: 'ux', ttlMs: 3_600_000 });
  await w.pasteInvite(fresh);
  await w.expectConnected();
  await expect(w.page.getByRole('region', { name: /^Peers/ })).toBeVisible();
  await expect(w.page.getByRole('heading', { name: 'This invite has been used up' })).toHaveCount(0);
});

test('three consoles: a 64-character name never wraps the header or the table; tasks offer what their state and owner allow; a relayed link with light traffic is a quiet line', async ({ browser }) => {
  test.setTimeout(180_000);
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await scene.registry.createInvite({ project: 'ux', ttlMs: 3_600_000 });
  scene.consoles = [await WebConsole.open(browser, link), await WebConsole.open(browser, link), await WebConsole.open(browser, link)];
  const [ada, bob, cy] = scene.consoles as [WebConsole, WebConsole, WebConsole];
  await ada.rename('Ada');
  await cy.rename('Cy');
  const longName = 'B'.repeat(64);
  await bob.rename(longName);
  const [adaId, bobId] = [await ada.peerId(), await bob.peerId()];

  // Bob's long name: one line in Ada's table, ending in an ellipsis, whole in its title and on focus.
  const bobRow = ada.peerRow(bobId);
  await expect(bobRow).toContainText(longName, { timeout: 20_000 });
  await expect(bobRow.locator('[data-col="state"]')).toHaveText('direct', { timeout: 20_000 });
  const bobName = bobRow.getByTestId('peer-name');
  await expect(bobName).toHaveAttribute('title', new RegExp(`^\u2068${longName}\u2069 #[a-z2-7]{4}$`));
  expect(await bobName.evaluate((e) => e.scrollWidth > e.clientWidth), 'clipped with an ellipsis').toBe(true);
  await expectOneLine(bobName, 24);
  await expect(bobRow).toHaveAttribute('aria-label', new RegExp(`^${longName} #[a-z2-7]{4}, direct`));
  for (const th of await ada.page.locator('thead th').all()) await expectOneLine(th, 40);
  // Bob's own header, with the long name in it: still one line.
  await expectOneLine(header(bob), 60);
  await screenshots(ada, 'console-peers', [LIGHT, DARK]);
  await bobRow.focus();
  expect(await bobName.evaluate((e) => e.scrollWidth > e.clientWidth), 'whole on focus').toBe(false);
  await ada.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());

  // The workstream before anyone wrote: it says so, and no status is claimed for Ada.
  for (const w of scene.consoles) await w.page.getByRole('tab', { name: 'Workstream' }).click();
  await expect(ada.page.getByTestId('ws-empty')).toHaveText(/^No entries yet\./);
  await expect(ada.page.getByTestId('ws-count')).toHaveCount(0);
  await expect(ada.page.getByLabel('My status')).toHaveValue('');
  await expect(ada.page.getByRole('button', { name: 'Set status' })).toBeDisabled();

  // A task Ada creates: open, so anyone may claim it, and nobody may report on it.
  const title = 'Write the release notes';
  await ada.page.getByLabel('New task').fill(title);
  await ada.page.getByRole('button', { name: 'Create task' }).click();
  for (const w of scene.consoles) {
    await expect(taskRow(w, title).getByRole('button', { name: 'Claim' })).toBeEnabled({ timeout: 20_000 });
    await expect(taskRow(w, title).getByRole('button', { name: 'Report progress' })).toHaveCount(0);
    await expect(taskRow(w, title).getByRole('button', { name: 'Done' })).toHaveCount(0);
  }
  // The author filter stays a sensible width with a 64-character name in it.
  await bob.page.getByLabel('Message').fill('hello from a long name');
  await bob.page.getByRole('button', { name: 'Post' }).click();
  await expect(ada.page.getByLabel('Author').locator('option')).toHaveCount(3, { timeout: 20_000 });
  expect((await ada.page.getByLabel('Author').boundingBox())!.width).toBeLessThanOrEqual(260);

  // Bob claims it: Bob may report progress or finish it; Ada and Cy may no longer claim it.
  await taskRow(bob, title).getByRole('button', { name: 'Claim' }).click();
  await expect(taskRow(bob, title).getByRole('button', { name: 'Done' })).toBeVisible({ timeout: 20_000 });
  await expect(taskRow(bob, title).getByRole('button', { name: 'Claim' })).toHaveCount(0);
  for (const w of [ada, cy]) {
    await expect(taskRow(w, title)).toContainText(`by \u2068${longName}\u2069`, { timeout: 20_000 });
    await expect(taskRow(w, title).getByRole('button')).toHaveCount(0);
  }
  // Progress: "progress 40 %" everywhere, and Bob's field is empty again.
  const pct = taskRow(bob, title).getByLabel(`Progress of ${title} (%)`);
  await expect(taskRow(bob, title).getByRole('button', { name: 'Report progress' })).toBeDisabled();
  await pct.fill('40');
  await taskRow(bob, title).getByRole('button', { name: 'Report progress' }).click();
  for (const w of scene.consoles) await expect(taskRow(w, title).getByTestId('task-state')).toHaveText('progress 40 %', { timeout: 20_000 });
  await expect(pct).toHaveValue('');
  await screenshots(ada, 'workstream-tasks', [LIGHT, DARK]);
  await taskRow(bob, title).getByRole('button', { name: 'Done' }).click();
  for (const w of scene.consoles) await expect(taskRow(w, title)).toHaveCount(0, { timeout: 20_000 });

  // Ada forces her link with Bob onto the relay: only keepalives run over it, so both ends say it quietly.
  for (const w of scene.consoles) await w.page.getByRole('tab', { name: 'Peers and links' }).click();
  await bobRow.click();
  // Bob's details, 64-character name and all, stay inside the window (the safety-code sentence ran
  // 230 px past it).
  await expect(ada.page.getByTestId('peer-details')).toContainText(`Read the safety code to \u2068${longName}\u2069`);
  expect(await ada.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 'no horizontal scrolling').toBeLessThanOrEqual(0);
  await ada.page.getByLabel('Force this link through the registry relay (diagnostics)').check();
  for (const w of [ada, bob]) {
    const line = w.page.getByTestId('relay-warning');
    await expect(line).toHaveAttribute('data-level', 'quiet', { timeout: 20_000 });
    await expect(line).toContainText('One link runs through the registry relay');
    await expect(line).toHaveRole('status');
  }
  await expect(bob.peerRow(adaId).locator('[data-col="path"]')).toHaveText('registry relay', { timeout: 20_000 });
  await expect(cy.page.getByTestId('relay-warning')).toHaveCount(0);
  await ada.page.waitForTimeout(4000); // a few usage reports: background traffic stays quiet
  await expect(ada.page.getByTestId('relay-warning')).toHaveAttribute('data-level', 'quiet');
  await screenshots(ada, 'console-relay-quiet', [LIGHT, DARK]);
});

test('a relayed link over its budget: a loud warning, and the problem on that peer’s row at both ends, not under registry notices', async ({ browser }) => {
  test.setTimeout(120_000);
  // A small per-pair relay budget: background traffic is far below it, a burst of messages is over it.
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent, relayBudget: { pairBytesPerSecond: 6 * 1024 } });
  const { link } = await scene.registry.createInvite({ project: 'ux-budget', ttlMs: 3_600_000 });
  scene.consoles = [await WebConsole.open(browser, link), await WebConsole.open(browser, link)];
  const [ada, bob] = scene.consoles as [WebConsole, WebConsole];
  await ada.rename('Ada');
  await bob.rename('Bob');
  const [adaId, bobId] = [await ada.peerId(), await bob.peerId()];
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 20_000 });
  await ada.peerRow(bobId).click();
  await ada.page.getByLabel('Force this link through the registry relay (diagnostics)').check();
  await expect(ada.page.getByTestId('relay-warning')).toHaveAttribute('data-level', 'quiet', { timeout: 20_000 });

  // Ada writes a lot at once: more than the pair may relay.
  await ada.page.getByRole('tab', { name: 'Workstream' }).click();
  for (let i = 0; i < 6; i++) {
    await ada.page.getByLabel('Message').fill(`${i} ${'x'.repeat(7000)}`);
    await ada.page.getByRole('button', { name: 'Post' }).click();
  }
  await ada.page.getByRole('tab', { name: 'Peers and links' }).click();
  const loud = ada.page.getByTestId('relay-warning');
  await expect(loud).toHaveAttribute('data-level', 'loud', { timeout: 20_000 });
  await expect(loud).toHaveRole('alert');
  await expect(loud.getByRole('heading')).toHaveText('⚠ Heavy traffic through the registry relay');

  // The problem is on Bob's row in Ada's console, and on Ada's row in Bob's (told by Ada's end).
  const adasNote = ada.peerRow(bobId).getByTestId('link-note');
  await expect(adasNote).toHaveAttribute('data-code', 'RELAY_OVER_BUDGET', { timeout: 20_000 });
  await expect(adasNote).toContainText('relay budget for this link is used up');
  const bobsNote = bob.peerRow(adaId).getByTestId('link-note');
  await expect(bobsNote).toHaveAttribute('data-code', 'RELAY_OVER_BUDGET', { timeout: 20_000 });
  await expect(bobsNote).toHaveAttribute('data-end', 'peer');
  await expect(bobsNote).toContainText('their end: The registry’s relay budget');
  await expect(ada.page.getByTestId('link-notes')).toContainText('RELAY_OVER_BUDGET');
  for (const w of [ada, bob]) await expect(w.page.getByRole('region', { name: 'Registry notices' })).toHaveCount(0);
  await screenshots(ada, 'console-relay-loud', [LIGHT, DARK]);
});

test('notifications: a task naming you and a mention show in the console and, in the desktop app, as system notifications; a name inside another word does not', async ({ browser }) => {
  test.setTimeout(120_000);
  const desk = await DesktopConsole.launch(browser, { username: 'Dora' });
  scene.consoles.push(desk);
  await desk.useOwnRegistry();
  const link = await desk.createInvite();
  await desk.closeDialog();
  const bob = await WebConsole.open(browser, link);
  scene.consoles.push(bob);
  await bob.rename('Bob');
  const bobId = await bob.peerId();
  await expect(desk.peerRow(bobId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 20_000 });
  // Linked at Bob's end too, so his posts go out as he makes them (a toast lasts 10 s).
  await expect(bob.peerRow(await desk.peerId()).locator('[data-col="state"]')).toHaveText('direct', { timeout: 20_000 });
  await expect(desk.page.getByTestId('notifications-button')).toHaveAccessibleName('Notifications');

  await bob.page.getByRole('tab', { name: 'Workstream' }).click();
  await bob.page.getByLabel('Message').fill('Is Dorado a good name for the release?');
  await bob.page.getByRole('button', { name: 'Post' }).click();
  await bob.page.getByLabel('Message').fill('@Dora can you look at the build?');
  await bob.page.getByRole('button', { name: 'Post' }).click();
  const toast = desk.page.getByTestId('notice-toast');
  await expect(toast).toContainText(/\u2068Bob\u2069 #[a-z2-7]{4} mentioned you/, { timeout: 20_000 });
  await expect(toast).toContainText('@Dora can you look at the build?');
  await bob.page.getByLabel('New task').fill('Dora: review the release notes');
  await bob.page.getByRole('button', { name: 'Create task' }).click();
  await expect(toast).toContainText('A task for you', { timeout: 20_000 });
  await expect(desk.page.getByTestId('notifications-button')).toHaveAccessibleName('Notifications, 2 new');
  await screenshots(desk, 'notifications-toast', [LIGHT, DARK]);

  // The list, newest first; opening it marks them read.
  await desk.page.getByTestId('notifications-button').click();
  const list = desk.page.getByRole('dialog', { name: 'Notifications' }).getByTestId('notice-list').locator('li');
  await expect(list).toHaveCount(2);
  await expect(list.nth(0)).toHaveAttribute('data-kind', 'task');
  await expect(list.nth(0)).toContainText('“\u2068Dora: review the release notes\u2069”');
  await expect(list.nth(1)).toHaveAttribute('data-kind', 'mention');
  await screenshots(desk, 'notifications', [LIGHT, DARK]);
  await desk.closeDialog();
  await expect(desk.page.getByTestId('notifications-button')).toHaveAccessibleName('Notifications');

  // The desktop app asked main for the same two, as system notifications.
  expect(desk.systemNotifications).toEqual([
    { title: expect.stringMatching(/^\u2068Bob\u2069 #[a-z2-7]{4} mentioned you$/), body: '@Dora can you look at the build?' },
    { title: 'A task for you', body: expect.stringMatching(/^\u2068Bob\u2069 #[a-z2-7]{4}: “\u2068Dora: review the release notes\u2069”$/) },
  ]);
  // Bob's own console told Bob nothing of his own posts.
  await expect(bob.page.getByTestId('notifications-button')).toHaveAccessibleName('Notifications');

  // A name cannot carry formatting that reorders text: "Bob" + POP DIRECTIONAL ISOLATE + RIGHT-TO-LEFT
  // OVERRIDE + "evil" arrives as "Bobevil" (displayNameSchema), in the peer list, the notice and
  // the system notification, so what is shown is what trust on first use compares.
  await bob.rename('Bob\u2069\u202eevil');
  const bobName = desk.peerRow(bobId).getByTestId('peer-name');
  await expect(bobName.locator('.user-text')).toHaveText('Bobevil', { timeout: 20_000 });
  await bob.page.getByLabel('Message').fill('@Dora once more');
  await bob.page.getByRole('button', { name: 'Post' }).click();
  await expect(toast.locator('strong')).toHaveText(/^\u2068Bobevil\u2069 #[a-z2-7]{4} mentioned you$/, { timeout: 20_000 });
  expect(desk.systemNotifications.at(-1)?.title).toMatch(/^\u2068Bobevil\u2069 #[a-z2-7]{4} mentioned you$/);
  // Other text a peer chose may: a task's title. Its override would draw the rest of the notice
  // backwards, and the POP DIRECTIONAL ISOLATE before it would end the isolate it is shown in. The
  // title is shown without its isolate marks and isolated, so the override ends with it: the
  // closing quote is still drawn after the whole title, on screen and in the system notification.
  await bob.page.getByLabel('New task').fill('Dora: \u2069\u202eweiver');
  await bob.page.getByRole('button', { name: 'Create task' }).click();
  const body = toast.locator('.body');
  await expect(body).toHaveText(/^\u2068Bobevil\u2069 #[a-z2-7]{4}: “\u2068Dora: \u202eweiver\u2069”$/, { timeout: 20_000 });
  const [title, quote] = [await drawnXs(body, 'weiver'), await drawnXs(body, '”')];
  expect(quote[0]!, 'the closing quote drawn after the whole title').toBeGreaterThan(Math.max(...title));
  expect(desk.systemNotifications.at(-1)).toEqual({ title: 'A task for you', body: expect.stringMatching(/^\u2068Bobevil\u2069 #[a-z2-7]{4}: “\u2068Dora: \u202eweiver\u2069”$/) });
});

/** Where each non-blank character of `text` (all of it by default) in the element's single text node is drawn: left edges in px. */
function drawnXs(element: Locator, text?: string): Promise<number[]> {
  return element.evaluate((el, wanted) => {
    const node = el.firstChild as Text;
    wanted ??= node.data;
    const at = node.data.indexOf(wanted);
    if (at < 0) throw new Error(`"${wanted}" is not in "${node.data}"`);
    const xs: number[] = [];
    for (let i = at; i < at + wanted.length; i++) {
      if (node.data[i] === ' ') continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      xs.push(range.getBoundingClientRect().left);
    }
    return xs;
  }, text);
}
