/**
 * The desktop app end to end (Playwright `_electron`): two app instances with separate profiles,
 * one with the embedded registry, join the same invite and list each other. Runs wherever an
 * Electron binary exists; elsewhere each test is reported as skipped with the reason.
 */
import { test, expect, _electron as electron, type ElectronApplication } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findElectronBinary } from '../support/electron-binary';

const binary = findElectronBinary();
const MAIN = resolve(__dirname, '../../out/main/index.js');

async function launch(env: Record<string, string>): Promise<ElectronApplication> {
  if (!('path' in binary)) throw new Error(binary.reason);
  return electron.launch({
    executablePath: binary.path,
    args: [MAIN, '--no-sandbox'],
    env: { ...process.env, WSP_USER_DATA: mkdtempSync(join(tmpdir(), 'wsp-electron-')), ...env },
  });
}

test.describe('desktop app', () => {
  test.skip(!('path' in binary), 'reason' in binary ? binary.reason : '');

  test('the embedded registry starts by default; a second app joins its invite and both list each other', async () => {
    const host = await launch({ WSP_REGISTRY_PORT: '0' });
    const hostPage = await host.firstWindow();
    // First run: start a project (with the embedded registry) or join one.
    await expect(hostPage.getByRole('button', { name: 'Start a project' })).toBeVisible();

    // The window is locked down: no Node, no navigation away.
    expect(await hostPage.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    expect(await hostPage.evaluate(() => Object.keys((globalThis as unknown as { wsp: object }).wsp).sort())).toContain('getIdentity');

    await hostPage.getByRole('button', { name: 'Start a project' }).click();
    await expect(hostPage.getByTestId('registry-status')).toHaveAttribute('data-phase', 'connected');
    await hostPage.getByRole('button', { name: 'Invite people' }).click();
    await expect(hostPage.getByRole('dialog')).toContainText('Running');
    await hostPage.getByRole('button', { name: 'Create invite' }).click();
    const link = await hostPage.getByLabel('Invite link (send it to a teammate)').inputValue();

    const guest = await launch({ WSP_REGISTRY_PORT: '0' });
    const guestPage = await guest.firstWindow();
    await guestPage.getByLabel('Invite link', { exact: true }).fill(link);
    await guestPage.getByRole('button', { name: 'Join', exact: true }).click();
    await expect(guestPage.getByTestId('registry-status')).toHaveAttribute('data-phase', 'connected');

    await hostPage.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();
    const ownId = async (page: typeof hostPage) => {
      await page.getByRole('banner').getByRole('button', { name: 'This console', exact: true }).click();
      const id = await page.getByTestId('own-peer-id').textContent();
      await page.keyboard.press('Escape');
      return id;
    };
    const [hostId, guestId] = [await ownId(hostPage), await ownId(guestPage)];
    await expect(hostPage.locator(`tr[data-peer-id="${guestId}"]`)).toHaveCount(1);
    await expect(guestPage.locator(`tr[data-peer-id="${hostId}"]`)).toHaveCount(1);

    await guest.close();
    await expect(hostPage.locator(`tr[data-peer-id="${guestId}"]`)).toHaveCount(0);
    await host.close();
  });
});
