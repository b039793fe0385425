/**
 * A registry that hands out STUN or TURN addresses browsers refuse (found by a new-user pass: with
 * `--stun-url notaurl` every console's `new RTCPeerConnection` threw, uncaught, and no peer row
 * ever showed a link — not even through the relay). The console leaves such servers out, says so
 * under Registry notices, and links as it would without them.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry } from '../../src-main/registry/registry';
import { WEB_ROOT, WebConsole, webConsoleScene } from '../support/web-console';

const scene = webConsoleScene();

test('ICE servers from the registry that a browser refuses are left out and said; consoles still link directly', async ({ browser }) => {
  test.setTimeout(60_000);
  scene.registry = await createRegistry({
    webRoot: WEB_ROOT,
    logger: pino({ level: 'silent' }),
    stunUrls: ['notaurl'],
    turn: { urls: ['turn:127.0.0.1:3478?transport=sctp'], secret: 'not-used', ttlSeconds: 3600 },
  });
  const { link } = await scene.registry.createInvite({ project: 'bad-ice', ttlMs: 3_600_000 });
  const [ada, bob] = (scene.consoles = [await WebConsole.open(browser, link), await WebConsole.open(browser, link)]) as [WebConsole, WebConsole];
  const bobId = await bob.peerId();
  // Direct: host candidates need no STUN; the page noise check fails the test on any uncaught error.
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText('direct', { timeout: 30_000 });
  const notices = ada.page.getByRole('region', { name: 'Registry notices' });
  await expect(notices).toContainText('the registry’s ICE server was left out: “notaurl” does not start with stun:, stuns:, turn: or turns:');
  await expect(notices).toContainText('the registry’s ICE server was left out: “turn:127.0.0.1:3478?transport=sctp” is not turn:HOST[:PORT][?transport=udp|tcp]');
  await expect(notices.locator('li')).toHaveCount(2);
});
