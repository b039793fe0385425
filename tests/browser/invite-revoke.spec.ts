/** Revoking an invite from the desktop registry panel (issue 16, item 9). */
import type { Page } from '@playwright/test';
import { test, expect } from '../support/test';
import { WebConsole, assertWebConsoleBuilt } from '../support/web-console';
import { DesktopConsole } from '../support/desktop-console';
import { parseInvite } from '../../src-shared/invite';

test.beforeAll(assertWebConsoleBuilt);

/** Whether any of the page's workstream databases holds `text` (entries are stored as bytes: read as UTF-8). */
function storedAnywhere(page: Page, text: string): Promise<boolean> {
  return page.evaluate(async (text) => {
    const names = (await indexedDB.databases()).map((d) => d.name!).filter((n) => n.startsWith('wsp-workstream:'));
    const readAll = (name: string) =>
      new Promise<unknown[]>((done, fail) => {
        const open = indexedDB.open(name);
        open.onerror = () => fail(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const stores = [...db.objectStoreNames];
          if (!stores.length) return done([]);
          const tx = db.transaction(stores, 'readonly');
          const all: unknown[] = [];
          for (const store of stores) tx.objectStore(store).getAll().onsuccess = (e) => all.push(...((e.target as IDBRequest<unknown[]>).result));
          tx.oncomplete = () => (db.close(), done(all));
        };
      });
    const asText = (_key: string, value: unknown) => (value instanceof Uint8Array || value instanceof ArrayBuffer ? new TextDecoder().decode(value) : value);
    for (const name of names) if (JSON.stringify(await readAll(name), asText).includes(text)) return true;
    return false;
  }, text);
}

async function post(from: WebConsole, text: string): Promise<void> {
  await from.page.getByRole('tab', { name: /Workstream/ }).click();
  await from.page.getByLabel('Message').fill(text);
  await from.page.getByRole('button', { name: 'Post' }).click();
  await expect(from.page.getByTestId('workstream-log').locator('li[data-kind="message"]', { hasText: text })).toHaveCount(1);
}

test('the registry panel lists its invites; revoking one (two clicks) disconnects the teammate who joined with it, who is told why, and keeps the others', async ({ browser }) => {
  test.setTimeout(90_000);
  const desk = await DesktopConsole.launch(browser, { username: 'Dora' });
  await desk.useOwnRegistry(); // "Start a project": Invite people is in the header from then on
  const panel = desk.page.getByRole('region', { name: 'This console’s registry' });
  const leaked = await desk.createInvite();
  const kept = await desk.createInvite();
  const idOf = (link: string) => (JSON.parse(Buffer.from(parseInvite(link).token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const [leakedId, keptId] = [idOf(leaked), idOf(kept)];
  await expect(panel.locator('[data-invite-id]')).toHaveCount(3); // these two, and the one "Start a project" joined with

  const [mallory, mate] = [await WebConsole.open(browser, `${desk.registryHttpUrl}/`), await WebConsole.open(browser, `${desk.registryHttpUrl}/`)];
  await mallory.pasteInvite(leaked);
  await mate.pasteInvite(kept);
  await mallory.expectConnected();
  await mate.expectConnected();
  const malloryId = await mallory.peerId();
  await expect(mate.peerRow(malloryId)).toHaveCount(1, { timeout: 20_000 });
  // A direct link between them: revoking must end it too, not only the registry connection.
  await expect(mate.peerRow(malloryId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 30_000 });
  await post(mate, 'before the revocation');
  await expect.poll(() => storedAnywhere(mallory.page, 'before the revocation'), { timeout: 20_000 }).toBe(true);

  const row = panel.locator(`[data-invite-id="${leakedId}"]`);
  await row.getByRole('button', { name: `Revoke invite ${leakedId.slice(0, 8)}` }).click();
  // The first click only asks: nobody is disconnected yet.
  await expect(row.getByRole('button', { name: `Confirm: revoke invite ${leakedId.slice(0, 8)}` })).toBeVisible();
  await expect(mallory.status()).toHaveAttribute('data-phase', 'connected');
  await row.getByRole('button', { name: `Confirm: revoke invite ${leakedId.slice(0, 8)}` }).click();
  await expect(row).toContainText('Revoked');

  await expect(mallory.status()).toHaveAttribute('data-phase', 'rejected', { timeout: 10_000 });
  // Told in words, with what to do (the code stays on the status for a bug report).
  await expect(mallory.status()).toHaveAttribute('data-code', 'INVITE_REVOKED');
  await expect(mallory.page.getByRole('heading', { name: 'This invite was revoked' })).toBeVisible();
  await expect(mallory.page.getByRole('button', { name: /^Leave/ })).toHaveCount(0);
  await expect(mate.peerRow(malloryId)).toHaveCount(0, { timeout: 20_000 });
  await expect(mate.status()).toHaveAttribute('data-phase', 'connected');
  // Nothing posted afterwards reaches the revoked console, over any link (the check above shows it would be seen).
  await post(mate, 'after the revocation');
  await mate.page.waitForTimeout(3000);
  expect(await storedAnywhere(mallory.page, 'after the revocation')).toBe(false);
  await expect(panel.locator(`[data-invite-id="${keptId}"]`).getByRole('button', { name: `Revoke invite ${keptId.slice(0, 8)}` })).toBeVisible();

  await mallory.close();
  await mate.close();
  await desk.close();
});
