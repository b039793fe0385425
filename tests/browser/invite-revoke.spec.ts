/** Revoking an invite from the desktop registry panel (issue 16, item 9). */
import { test, expect } from '../support/test';
import { WebConsole, assertWebConsoleBuilt } from '../support/web-console';
import { DesktopConsole } from '../support/desktop-console';
import { parseInvite } from '../../src-shared/invite';

test.beforeAll(assertWebConsoleBuilt);

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
  await expect(panel.locator(`[data-invite-id="${keptId}"]`).getByRole('button', { name: `Revoke invite ${keptId.slice(0, 8)}` })).toBeVisible();

  await mallory.close();
  await mate.close();
  await desk.close();
});
