/**
 * Consoles on different registry instances sharing one Redis: links, relay, and an instance that
 * dies mid-session (SIGKILL) while its consoles fail over and open DataChannels keep delivering.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { loadOrCreateSecret } from '../../src-main/registry/invites';
import { formatInviteLink } from '../../src-shared/invite';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../support/harness';
import { redisAvailable, startRedis, type RedisServer } from '../support/redis-server';
import { startStandaloneRegistry, type StandaloneRegistry } from '../support/standalone-registry';
import { freePort } from '../support/ports';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const silent = pino({ level: 'silent' });
let redis: RedisServer | undefined;
let registries: RegistryHandle[] = [];
let spawned: StandaloneRegistry[] = [];
let consoles: HarnessConsole[] = [];

test.beforeAll(async () => {
  await buildHarness();
});
test.beforeEach(async () => {
  // CI installs redis-server (.ci/run), so there a missing one fails instead of skipping.
  test.skip(!redisAvailable() && !process.env.CI, 'redis-server is not installed (apt-get install -y redis-server)');
  redis = await startRedis();
});
test.afterEach(async () => {
  await Promise.all(consoles.map((c) => c.close()));
  await Promise.all(registries.map((r) => r.close()));
  await Promise.all(spawned.map((s) => s.kill()));
  await redis?.stop();
  consoles = [];
  registries = [];
  spawned = [];
});

test('consoles on two instances link directly and exchange frames; relayed links work across instances', async ({ browser }) => {
  const inviteSecret = crypto.getRandomValues(new Uint8Array(32));
  for (let i = 0; i < 2; i++) registries.push(await createRegistry({ webRoot: HARNESS_ROOT, logger: silent, inviteSecret, redis: redis!.url }));
  const [one, two] = registries as [RegistryHandle, RegistryHandle];
  const { token } = await one.createInvite({ project: 'multi', ttlMs: 3_600_000 });
  const [a, b, c, d] = (consoles = await Promise.all([one, two, one, two].map((r) => HarnessConsole.open(browser, r.httpUrl))));
  const [idA, idB] = await Promise.all([a!.join(formatInviteLink(one.httpUrl, token), 'A'), b!.join(formatInviteLink(two.httpUrl, token), 'B')]);
  await a!.waitForState(idB, ['direct']);
  await a!.call('sendSeq', idB, 1, 50);
  await expect.poll(async () => (await b!.call('received', idA)).seqs.length).toBe(50);

  const relayed = { blockDirect: true, fallbackAfterMs: 500, directRetry: { baseMs: 600_000, maxMs: 600_000 } };
  const [idC, idD] = await Promise.all([c!.join(formatInviteLink(one.httpUrl, token), 'C', relayed), d!.join(formatInviteLink(two.httpUrl, token), 'D', relayed)]);
  await c!.waitForState(idD, ['relay']);
  await c!.call('sendSeq', idD, 1, 50);
  await expect.poll(async () => (await d!.call('received', idC)).seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
});

test('an instance killed mid-session: its consoles fail over, presence converges, an open DataChannel loses nothing', async ({ browser, pageNoise }) => {
  test.setTimeout(90_000);
  // The instances know each other (--alternate-url): the survivor's pages may connect to the
  // doomed one (its CSP names it), and the doomed one lets the survivor's pages open its WebSocket.
  const dataDir = mkdtempSync(join(tmpdir(), 'wsp-standalone-'));
  const doomedPort = await freePort();
  const survivor = await createRegistry({
    webRoot: HARNESS_ROOT,
    logger: silent,
    inviteSecret: loadOrCreateSecret(dataDir),
    redis: redis!.url,
    alternateUrls: [`http://127.0.0.1:${doomedPort}`],
    limits: { heartbeatMs: 1000 },
  });
  registries.push(survivor);
  const doomed = await startStandaloneRegistry(['--redis', redis!.url, '--heartbeat', '1s', '--web-root', HARNESS_ROOT, '--port', String(doomedPort), '--alternate-url', survivor.httpUrl], dataDir);
  spawned.push(doomed);
  // A console retries the instance it lost once (it may be restarting) before moving on.
  pageNoise.expect(new RegExp(`WebSocket connection to 'ws://${new URL(doomed.httpUrl).host}/ws' failed`), 'B retries the killed instance once');
  const token = new URLSearchParams((await doomed.invite('multi')).split('#')[1]).get('invite')!;
  const [a, b] = (consoles = await Promise.all([survivor.httpUrl, survivor.httpUrl].map((origin) => HarnessConsole.open(browser, origin))));
  const idA = await a!.join(formatInviteLink(survivor.httpUrl, token), 'A');
  // B knows both instances and starts on the doomed one.
  const idB = await b!.join(formatInviteLink(doomed.httpUrl, token, [survivor.httpUrl]), 'B');
  await a!.waitForState(idB, ['direct']);
  expect(survivor.stats().consoles).toBe(1);

  const streaming = a!.page.evaluate(async (peer) => {
    const h = (window as unknown as { harness: { sendSeq(p: string, f: number, t: number): Promise<void> } }).harness;
    for (let seq = 1; seq <= 400; seq += 4) {
      await h.sendSeq(peer, seq, seq + 3);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }, idB);
  await doomed.kill();
  await expect.poll(() => survivor.stats().consoles, { timeout: 20_000 }).toBe(2); // B failed over
  await streaming;
  await expect.poll(async () => (await b!.call('received', idA)).seqs.length, { timeout: 20_000 }).toBe(400);
  expect((await b!.call('received', idA)).seqs).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  expect((await a!.call('snapshot', idB))!.history.filter((h) => h.event === 'datachannel-open')).toHaveLength(1);
  expect(await b!.call('registryState')).toBe('connected');
});
