import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, assertWebConsoleBuilt } from '../support/web-console';

const silent = pino({ level: 'silent' });
let registry: RegistryHandle | undefined;

test.beforeAll(assertWebConsoleBuilt);
test.afterEach(async () => {
  await registry?.close();
  registry = undefined;
});

test('fingerprints and the safety code are the same on both consoles; a verified mark survives a reload', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'trust', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  const [adaId, bobId] = [await ada.peerId(), await bob.peerId()];
  await ada.peerRow(bobId).click();
  await bob.peerRow(adaId).click();
  const adaDetails = ada.page.getByTestId('peer-details');
  const bobDetails = bob.page.getByTestId('peer-details');
  const code = await adaDetails.getByTestId('safety-code').textContent();
  expect(code).toMatch(/^\d{5} \d{5} \d{5} \d{5}$/);
  await expect(bobDetails.getByTestId('safety-code')).toHaveText(code!);
  // Each sees the other's fingerprint as the other sees its own.
  await expect(adaDetails.getByTestId('peer-fingerprint')).toHaveText(await bob.fingerprint());

  await adaDetails.getByRole('button', { name: 'Mark as verified' }).click();
  await expect(ada.peerRow(bobId)).toContainText('✓ verified');
  await ada.page.reload();
  await expect(ada.peerRow(bobId)).toContainText('✓ verified');
  await ada.close();
  await bob.close();
});

test('a known name coming back with a new key is a loud warning, and no link until the user accepts', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'pin', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, registry.httpUrl + '/');
  await bob.rename('Bob');
  await bob.pasteInvite(link);
  const bobId = await bob.peerId();
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText('direct');
  await bob.close();

  // "Bob" again, but a different console (new key).
  const impostor = await WebConsole.open(browser, registry.httpUrl + '/');
  await impostor.rename('Bob');
  await impostor.pasteInvite(link);
  const impostorId = await impostor.peerId();
  const warning = ada.page.getByRole('alert').filter({ hasText: 'is using a new key' });
  await expect(warning).toContainText('“Bob” is using a new key');
  await expect(ada.peerRow(impostorId)).toContainText('new key for this name: not linked');
  // Ada is notified, however she is looking at the console (issue #18).
  // The notice names the key too: both consoles are "Bob".
  await expect(ada.page.getByTestId('notice-toast')).toContainText(`“\u2068Bob\u2069” #${(await impostor.fingerprint()).slice(0, 4)} is using a new key`);
  await expect(ada.page.getByTestId('notifications-button')).toHaveAccessibleName('Notifications, 1 new');
  await ada.page.waitForTimeout(1500);
  await expect(ada.peerRow(impostorId).locator('[data-col="state"]')).toHaveText('—');

  await warning.getByRole('button', { name: 'Accept the new key' }).click();
  await expect(warning).toHaveCount(0);
  await expect(ada.peerRow(impostorId).locator('[data-col="state"]')).toHaveText('direct');
  await ada.close();
  await impostor.close();
});

test('a linked console renaming itself to a teammate’s name, and a new key under that name in Cyrillic letters, are held back with a warning; each name shows its key', async ({ browser }) => {
  // Found by a probe: names were compared exactly, so "Carol" renaming to "Bob" showed as Bob,
  // linked, no warning; "Воb" (Cyrillic В and о), "bob" or "Bob" with invisible characters too.
  test.setTimeout(90_000);
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'names', ttlMs: 3_600_000 });
  const join = async (name: string) => {
    const w = await WebConsole.open(browser, registry!.httpUrl + '/');
    await w.rename(name);
    await w.pasteInvite(link);
    return w;
  };
  const keyTag = async (w: WebConsole) => `#${(await w.fingerprint()).slice(0, 4)}`;
  const ada = await WebConsole.open(browser, link);
  const bob = await join('Bob');
  const carol = await join('Carol');
  const [bobId, carolId] = [await bob.peerId(), await carol.peerId()];
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 30_000 });
  await expect(ada.peerRow(carolId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 30_000 });
  await expect(ada.peerRow(bobId)).toContainText(`Bob ${await keyTag(bob)}`);

  await carol.rename('Bob');
  const renamed = ada.page.getByRole('alert').filter({ hasText: 'now calls itself' });
  await expect(renamed).toContainText('“Carol” now calls itself “Bob”');
  await expect(ada.page.getByTestId('notice-toast')).toContainText(`“\u2068Carol\u2069” ${await keyTag(carol)} now calls itself “\u2068Bob\u2069”`);
  await expect(ada.peerRow(carolId)).toContainText('renamed to a known teammate’s name: not linked');
  await expect(ada.peerRow(carolId).locator('[data-col="state"]')).toHaveText('—');
  // Two consoles called Bob, told apart by their keys wherever the name is shown.
  await expect(ada.peerRow(carolId)).toContainText(`Bob ${await keyTag(carol)}`);
  await expect(ada.peerRow(bobId)).toContainText(`Bob ${await keyTag(bob)}`);
  await expect(ada.page.getByTestId('peer-details')).toHaveCount(0);
  await ada.peerRow(carolId).click();
  await expect(ada.page.getByTestId('peer-details').getByRole('heading')).toContainText(`Bob ${await keyTag(carol)}`);

  // Accepted (Carol really is a Bob now): linked again, and known under the new name.
  await renamed.getByRole('button', { name: 'Accept the new name' }).click();
  await expect(renamed).toHaveCount(0);
  await expect(ada.peerRow(carolId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 30_000 });

  // A new key whose name reads the same, in Cyrillic letters.
  const eve = await join('\u0412\u043eb');
  const eveId = await eve.peerId();
  const newKey = ada.page.getByRole('alert').filter({ hasText: 'is using a new key' });
  await expect(newKey).toContainText('“\u0412\u043eb” is using a new key');
  await expect(newKey).toContainText('reads the same');
  await expect(ada.peerRow(eveId)).toContainText('new key for this name: not linked');
  await ada.page.waitForTimeout(1500);
  await expect(ada.peerRow(eveId).locator('[data-col="state"]')).toHaveText('—');
  for (const w of [ada, bob, carol, eve]) await w.close();
});

test('a name with a right-to-left override (U+202E) before "boB" is shown as its letters are, "boB", to its teammates and to itself, not as "Bob"', async ({ browser }) => {
  // Found by a new-user pass: the override turned the name around on screen ("Bob") while trust on
  // first use compared its letters ("boB"), so it passed as a second Bob without a warning.
  test.setTimeout(60_000);
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'bidi-names', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const eve = await WebConsole.open(browser, registry.httpUrl + '/');
  await eve.rename('\u202EboB');
  await eve.pasteInvite(link);
  const eveId = await eve.peerId();
  await expect(ada.peerRow(eveId).getByTestId('peer-name').locator('.user-text')).toHaveText('boB', { timeout: 20_000 });
  await expect(eve.page.getByTitle('Change your display name')).toHaveText('boB');
  for (const w of [ada, eve]) await w.close();
});

