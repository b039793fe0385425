import { test, expect } from '../support/test';
import { startStandaloneRegistry, type StandaloneRegistry } from '../support/standalone-registry';
import { WebConsole, assertWebConsoleBuilt } from '../support/web-console';

let registry: StandaloneRegistry | undefined;

test.beforeAll(assertWebConsoleBuilt);
test.afterEach(async () => {
  await registry?.stop();
  registry = undefined;
});

test('the standalone wsp-registry serves the web console; consoles joining its CLI invite see each other', async ({ browser }) => {
  registry = await startStandaloneRegistry();
  const health = await (await fetch(`${registry.httpUrl}/healthz`)).json();
  expect(health.status).toBe('ok');

  const link = await registry.invite('beta', '--ttl', '1h');
  expect(link).toMatch(new RegExp(`^${registry.httpUrl}/#invite=`));

  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  await ada.expectConnected();
  await bob.expectConnected();
  await expect(ada.status()).toContainText('project beta');
  const [adaId, bobId] = [await ada.peerId(), await bob.peerId()];
  await expect(ada.peerRow(bobId)).toHaveCount(1);
  await expect(bob.peerRow(adaId)).toHaveCount(1);

  const metrics = await (await fetch(`${registry.httpUrl}/metrics`)).text();
  expect(metrics).toMatch(/^wsp_registry_consoles 2$/m);

  await ada.close();
  await expect(bob.peerRow(adaId)).toHaveCount(0);
  await bob.close();
});

test('an invite with a use limit admits only that many consoles; the next one is told why', async ({ browser }) => {
  registry = await startStandaloneRegistry();
  const link = await registry.invite('gamma', '--max-uses', '1');
  const first = await WebConsole.open(browser, link);
  await first.expectConnected();
  const second = await WebConsole.open(browser, link);
  await expect(second.status()).toHaveAttribute('data-phase', 'rejected');
  await expect(second.status()).toHaveAttribute('data-code', 'INVITE_EXHAUSTED');
  await expect(second.page.getByRole('heading', { name: 'This invite has been used up' })).toBeVisible();
  await first.close();
  await second.close();
});
