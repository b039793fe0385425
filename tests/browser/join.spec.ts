import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { InviteAuthority } from '../../src-main/registry/invites';
import { formatInviteLink, parseInvite } from '../../src-shared/invite';
import { WebConsole, WEB_ROOT, assertWebConsoleBuilt } from '../support/web-console';

const silent = pino({ level: 'silent' });
let registry: RegistryHandle | undefined;

test.beforeAll(assertWebConsoleBuilt);
test.afterEach(async () => {
  await registry?.close();
  registry = undefined;
});

test('two web consoles that join the same invite list each other, and one sees the other leave', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'alpha', ttlMs: 3_600_000 });

  // Ada opens the console and pastes the invite; Bob simply opens the invite link.
  const ada = await WebConsole.open(browser, registry.httpUrl + '/');
  await ada.pasteInvite(link);
  await ada.expectConnected();
  await expect(ada.status()).toContainText('project alpha');
  await expect(ada.page.getByText('No teammates online yet')).toBeVisible();

  const bob = await WebConsole.open(browser, link);
  await bob.expectConnected();
  const [adaId, bobId] = [await ada.peerId(), await bob.peerId()];
  expect(adaId).not.toBe(bobId);

  await expect(ada.peerRow(bobId)).toContainText(bobId);
  await expect(bob.peerRow(adaId)).toContainText(adaId);
  await expect(bob.peerRow(adaId)).toContainText(/([a-z2-7]{4} ){5}[a-z2-7]{4}/); // key fingerprint

  // Their link comes up directly, and the row says so.
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText('direct');
  await expect(ada.peerRow(bobId).locator('[data-col="path"]')).toHaveText('direct (host) · IPv4');
  await expect(bob.peerRow(adaId).locator('[data-col="rtt"]')).toHaveText(/^\d+ ms$/);

  // A display name change reaches the teammate.
  await bob.rename('Bob');
  await expect(ada.peerRow(bobId)).toContainText('Bob');

  await bob.close();
  await expect(ada.peerRow(bobId)).toHaveCount(0);
  await expect(ada.page.getByText('No teammates online yet')).toBeVisible();
  await ada.close();
});

test('a bad invite is explained to the user and nothing is joined', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const c = await WebConsole.open(browser, registry.httpUrl + '/');

  await c.pasteInvite('hello there');
  await expect(c.page.getByRole('alert')).toContainText('paste the whole invite link');
  await expect(c.status()).toHaveAttribute('data-phase', 'idle');

  // Well-formed, but signed by another registry: the registry refuses, the console says why and stops.
  const forged = await new InviteAuthority(crypto.getRandomValues(new Uint8Array(32))).issue({ project: 'alpha', ttlMs: 3_600_000 });
  await c.pasteInvite(formatInviteLink(registry.httpUrl, forged));
  await expect(c.status()).toHaveAttribute('data-phase', 'rejected');
  await expect(c.status()).toHaveAttribute('data-code', 'INVITE_INVALID');
  await expect(c.page.getByRole('heading', { name: 'This invite was not accepted' })).toBeVisible();
  await c.close();
});

test('consoles reconnect with backoff when the registry restarts, and see each other again', async ({ browser, pageNoise }) => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent, inviteSecret: secret });
  const port = registry.port;
  pageNoise.allow(new RegExp(`WebSocket connection to 'ws://127\\.0\\.0\\.1:${port}/ws' failed: .*ERR_CONNECTION_REFUSED`), 'a retry that comes before the registry is back');
  const { link } = await registry.createInvite({ project: 'alpha', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  await ada.expectConnected();
  const bobId = await bob.peerId();
  await expect(ada.peerRow(bobId)).toHaveCount(1);

  await registry.close();
  await expect(ada.status()).toHaveAttribute('data-phase', 'reconnecting');
  await expect(ada.status()).toContainText(/retry in \d+ s/);

  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent, inviteSecret: secret, port });
  await ada.expectConnected();
  await bob.expectConnected();
  await expect(ada.peerRow(bobId)).toHaveCount(1);
  await ada.close();
  await bob.close();
});

test('an invite opened as a link in a tab already showing the console joins at once, without a reload; another one switches project', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const alpha = await registry.createInvite({ project: 'alpha', ttlMs: 3_600_000 });
  const beta = await registry.createInvite({ project: 'beta', ttlMs: 3_600_000 });
  const c = await WebConsole.open(browser, registry.httpUrl + '/');
  await expect(c.status()).toHaveAttribute('data-phase', 'idle');
  await c.page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

  // Pasted into the address bar: only the fragment differs, so the page is not loaded again.
  await c.page.goto(alpha.link);
  await c.expectConnected();
  await expect(c.status()).toContainText('project alpha');
  expect(c.page.url()).not.toContain(alpha.token); // taken out of the address bar
  await c.page.goto(beta.link);
  await expect(c.status()).toContainText('project beta');
  expect(await c.page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
  await c.close();
});

test('an expired or garbled invite opened as a link is explained in the Join box, as when pasted', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const expired = await registry.createInvite({ project: 'alpha', ttlMs: 1 });
  await expect.poll(() => Date.now(), { timeout: 5_000 }).toBeGreaterThan(parseInvite(expired.link).claims.expiresAt);

  // Opened in a new tab.
  const c = await WebConsole.open(browser, expired.link);
  const joinBox = c.page.getByRole('region', { name: 'Join with an invite' });
  await expect(joinBox.getByRole('alert')).toHaveText('this invite has expired: ask for a new one');
  await expect(c.status()).toHaveAttribute('data-phase', 'idle');

  // Opened in the tab already showing the console.
  await c.page.goto(`${registry.httpUrl}/#invite=not-a-token`);
  await expect(joinBox.getByRole('alert')).toHaveText('this is not an invite (expected a signed token)');
  await expect(c.status()).toHaveAttribute('data-phase', 'idle');

  // A good one then joins, and the explanation goes.
  await c.page.goto((await registry.createInvite({ project: 'alpha', ttlMs: 3_600_000 })).link);
  await c.expectConnected();
  await expect(joinBox.getByRole('alert')).toHaveCount(0);
  await c.close();
});

test('an expired or garbled invite opened as a link in a tab already in a project is explained there, and the project carries on', async ({ browser }) => {
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const alpha = await registry.createInvite({ project: 'alpha', ttlMs: 3_600_000 });
  const expired = await registry.createInvite({ project: 'beta', ttlMs: 1 });
  const c = await WebConsole.open(browser, alpha.link);
  await c.expectConnected();
  await expect(c.status()).toContainText('project alpha');
  await expect.poll(() => Date.now(), { timeout: 5_000 }).toBeGreaterThan(parseInvite(expired.link).claims.expiresAt);

  // The Join box is not on the page in a project: the explanation must still be seen.
  const notice = c.page.getByTestId('invite-not-used');
  await c.page.goto(expired.link);
  await expect(notice).toContainText('The invite link you opened could not be used: this invite has expired: ask for a new one.');
  await expect(notice).toHaveRole('alert');
  await c.page.goto(`${registry.httpUrl}/#invite=not-a-token`);
  await expect(notice).toContainText('The invite link you opened could not be used: this is not an invite (expected a signed token).');
  await expect(c.status()).toHaveAttribute('data-phase', 'connected');
  await expect(c.status()).toContainText('project alpha');

  // Dismissed, it goes; a good link then switches project with nothing left over.
  await c.page.getByRole('button', { name: 'Dismiss' }).click();
  await expect(notice).toHaveCount(0);
  await c.page.goto(`${registry.httpUrl}/#invite=not-a-token`);
  await expect(notice).toHaveCount(1);
  await c.page.goto((await registry.createInvite({ project: 'gamma', ttlMs: 3_600_000 })).link);
  await expect(c.status()).toContainText('project gamma');
  await expect(notice).toHaveCount(0);
  await c.close();
});
