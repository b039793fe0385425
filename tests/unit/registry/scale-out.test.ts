/** Several registry instances on one real Redis (started by the test on loopback). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTestRegistry } from '../../support/registry-fixture';
import { TestClient, earlyHello } from '../../support/registry-client';
import { earlyHelloProtocols } from '../../../src-shared/protocol/early-hello';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis-server';
import { createIdentity } from '../../../src-shared/identity';
import type { RegistryHandle, RegistryOptions } from '../../../src-main/registry/registry';
import type { ServerFrame } from '../../../src-shared/protocol/signaling';
import { startStandaloneRegistry } from '../../support/standalone-registry';
import { loadOrCreateSecret } from '../../../src-main/registry/invites';

// CI installs redis-server (.ci/run); elsewhere the suite says why it does not run.
const run = redisAvailable() || process.env.CI ? describe : describe.skip;

let redis: RedisServer;
let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];
const secret = crypto.getRandomValues(new Uint8Array(32));

async function instance(options: RegistryOptions = {}) {
  const r = await startTestRegistry({ redis: redis.url, inviteSecret: secret, ...options });
  registries.push(r);
  return r;
}
async function joinAt(r: RegistryHandle, token: string, name: string, identity?: Awaited<ReturnType<typeof createIdentity>>) {
  const c = await TestClient.join(r.url, token, { name, identity });
  clients.push(c);
  return c;
}
type Of<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

run('registry scale-out on Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const c of clients) c.ws.terminate();
    await Promise.all(registries.map((r) => r.close()));
    registries = [];
    clients = [];
    const flush = new Redis(redis.url);
    await flush.flushall();
    flush.disconnect();
  });

  it('consoles on different instances list each other and see each other leave', async () => {
    const [one, two, three] = [await instance(), await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    expect(bob.welcome.peers.map((p) => p.display_name)).toEqual(['Ada']);
    const joined = await ada.waitFor<Of<'peer_joined'>>((f) => f.type === 'peer_joined');
    expect(joined.peer.display_name).toBe('Bob');
    const carol = await joinAt(three, token, 'Carol');
    expect(carol.welcome.peers.map((p) => p.display_name).sort()).toEqual(['Ada', 'Bob']);
    await bob.close();
    await ada.waitFor((f) => f.type === 'peer_left' && f.peer_id === bob.identity.peerId);
    await carol.waitFor((f) => f.type === 'peer_left' && f.peer_id === bob.identity.peerId);
  });

  it('an early hello accepted by one instance and replayed to another gets the challenge there', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await createIdentity();
    const protocols = earlyHelloProtocols(await earlyHello(ada, token));
    const original = await TestClient.open(one.url, ada, undefined, protocols);
    clients.push(original);
    expect((await original.waitFor(() => true)).type).toBe('welcome');
    const replay = await TestClient.open(two.url, undefined, undefined, protocols);
    clients.push(replay);
    expect((await replay.waitFor(() => true)).type).toBe('challenge');
    // A fresh early hello is welcomed at the second instance too.
    const bob = await TestClient.open(two.url, undefined, undefined, earlyHelloProtocols(await earlyHello(await createIdentity(), token)));
    clients.push(bob);
    expect((await bob.waitFor(() => true)).type).toBe('welcome');
    expect(bob.welcome.peers.map((p) => p.peer_id)).toEqual([ada.peerId]);
  });

  it('what a peer says it is (an agent, its software and version) crosses instances, in welcome and peer_joined', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(two, token, 'Ada');
    const bot = await TestClient.join(one.url, token, { name: 'build-bot', client: { kind: 'agent', software: 'build-bot', version: '0.1.0' } });
    clients.push(bot);
    const joined = await ada.waitFor<Of<'peer_joined'>>((f) => f.type === 'peer_joined');
    expect(joined.peer.client).toEqual({ kind: 'agent', software: 'build-bot', version: '0.1.0' });
    const carol = await joinAt(two, token, 'Carol');
    expect(carol.welcome.peers.find((p) => p.peer_id === bot.identity.peerId)?.client).toEqual({ kind: 'agent', software: 'build-bot', version: '0.1.0' });
    expect(carol.welcome.peers.find((p) => p.peer_id === ada.identity.peerId)).not.toHaveProperty('client');
  });

  it('a rename reaches consoles on other instances, and later joiners there see the new name', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    const before = bob.welcome.peers[0]!;
    ada.send({ type: 'update_presence', display_name: 'Ada Lovelace' });
    const renamed = await bob.waitFor<Of<'peer_joined'>>((f) => f.type === 'peer_joined');
    expect(renamed.peer).toEqual({ ...before, display_name: 'Ada Lovelace' });
    const carol = await joinAt(two, token, 'Carol');
    expect(carol.welcome.peers.find((p) => p.peer_id === ada.identity.peerId)?.display_name).toBe('Ada Lovelace');
    expect(ada.closeCode).toBeUndefined();
  });

  it('routes signaling across instances with from_peer_id set, and refuses unknown peers', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    for (const type of ['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const) {
      ada.send({ type, to_peer_id: bob.identity.peerId, payload: new Uint8Array([1, 2, 3]) });
      expect(await bob.waitFor((f) => f.type === type)).toEqual({ type, from_peer_id: ada.identity.peerId, to_peer_id: bob.identity.peerId, payload: new Uint8Array([1, 2, 3]) });
    }
    ada.send({ type: 'webrtc_offer', to_peer_id: 'z'.repeat(26), payload: new Uint8Array(1) });
    await ada.waitFor((f) => f.type === 'error' && f.code === 'UNKNOWN_PEER');
  });

  it('relays across instances and counts a pair’s bytes once, wherever its frames enter', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(3000) });
    await bob.waitFor((f) => f.type === 'relay');
    bob.send({ type: 'relay', to_peer_id: ada.identity.peerId, payload: new Uint8Array(2000) });
    await ada.waitFor((f) => f.type === 'relay');
    const reports = await bob.waitFor<Of<'relay_usage'>>((f) => f.type === 'relay_usage' && f.pair_bytes === 5000, 5000).catch(async () =>
      ada.waitFor<Of<'relay_usage'>>((f) => f.type === 'relay_usage' && f.pair_bytes === 5000, 5000),
    );
    expect(reports.project_bytes_today).toBe(5000);
  });

  it('a console connecting to another instance with the same key replaces the older connection', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const identity = await createIdentity();
    const old = await joinAt(one, token, 'Laptop', identity);
    await joinAt(two, token, 'Laptop', identity);
    await old.waitFor((f) => f.type === 'error' && f.code === 'REPLACED');
    expect(await old.waitForClose()).toBe(4009);
  });

  it('Redis going away: health turns red, new joins are refused with REGISTRY_UNAVAILABLE, and it recovers by itself', async () => {
    const one = await instance();
    const { token } = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    expect((await fetch(`${one.httpUrl}/healthz`)).status).toBe(200);
    await redis.stop();
    await expect.poll(async () => (await fetch(`${one.httpUrl}/healthz`)).status, { timeout: 5000 }).toBe(503);
    const refused = await joinAt(one, token, 'Bob');
    expect(refused.errors()[0]?.code).toBe('REGISTRY_UNAVAILABLE');
    expect(await refused.waitForClose()).toBe(1013);
    expect(ada.closeCode).toBeUndefined(); // consoles already here keep their connection

    await redis.start();
    await expect.poll(async () => (await fetch(`${one.httpUrl}/healthz`)).status, { timeout: 10_000 }).toBe(200);
    const two = await instance();
    const bob = await joinAt(two, token, 'Bob');
    // The recovered instance announced its members again: a console on another instance sees Ada.
    await expect.poll(() => bob.welcome.peers.map((p) => p.display_name).concat(bob.frames.filter((f): f is Of<'peer_joined'> => f.type === 'peer_joined').map((f) => f.peer.display_name)), { timeout: 5000 }).toContain('Ada');
  });

  it('members of an instance that dies (SIGKILL) expire within the heartbeat window and peers see them leave', { timeout: 30_000 }, async () => {
    const doomed = await startStandaloneRegistry(['--redis', redis.url, '--heartbeat', '1s']);
    try {
      const survivor = await instance({ inviteSecret: loadOrCreateSecret(doomed.dataDir), limits: { heartbeatMs: 1000 } });
      const token = new URLSearchParams((await doomed.invite('scale')).split('#')[1]).get('invite')!;
      const ada = await joinAt(survivor, token, 'Ada');
      const bob = await joinAt({ url: doomed.httpUrl.replace('http', 'ws') + '/ws' } as RegistryHandle, token, 'Bob');
      await ada.waitFor((f) => f.type === 'peer_joined' && f.peer.peer_id === bob.identity.peerId);
      await doomed.kill(); // a crash: not a word to Redis
      const started = Date.now();
      await ada.waitFor((f) => f.type === 'peer_left' && f.peer_id === bob.identity.peerId, 10_000);
      // Liveness keys live 3 heartbeats; the survivor's next heartbeat notices.
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await doomed.kill();
    }
  });

  it('a project’s daily relay budget holds across instances', async () => {
    const budget = { relayBudget: { projectBytesPerDay: 10_000 } };
    const [one, two] = [await instance(budget), await instance(budget)];
    const { token } = await one.createInvite({ project: 'budget', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    // 6 000 bytes enter at instance one, then 6 000 at instance two: together over 10 000.
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(6000) });
    await bob.waitFor((f) => f.type === 'relay');
    await ada.waitFor((f) => f.type === 'relay_usage');
    await new Promise((resolve) => setTimeout(resolve, 100));
    bob.send({ type: 'relay', to_peer_id: ada.identity.peerId, payload: new Uint8Array(100) });
    await ada.waitFor((f) => f.type === 'relay');
    bob.send({ type: 'relay', to_peer_id: ada.identity.peerId, payload: new Uint8Array(6000) });
    const refused = await bob.waitFor<Of<'error'>>((f) => f.type === 'error' && f.code === 'RELAY_OVER_BUDGET');
    expect(refused.message).toMatch(/10000 bytes today/);
  });

  async function relayKeys(): Promise<string[]> {
    const client = new Redis(redis.url);
    try {
      return (await client.keys('wsp:relay:*')).sort();
    } finally {
      client.disconnect();
    }
  }
  /** A well-formed peer_id no console has (four base-26 letters after a fixed prefix). */
  const ghost = (i: number) => 'q'.repeat(22) + [0, 1, 2, 3].map((d) => String.fromCharCode(97 + (Math.floor(i / 26 ** d) % 26))).join('');

  it('relay frames to consoles that do not exist create nothing in Redis, charge nothing, and get one UNKNOWN_PEER each', async () => {
    const [one, two] = [await instance(), await instance()];
    const { token } = await one.createInvite({ project: 'ghosts', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    for (let i = 0; i < 10; i++) ada.send({ type: 'relay', to_peer_id: ghost(i), payload: new Uint8Array(1000) });
    await ada.waitFor(() => ada.errors().length >= 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ada.errors().map((e) => [e.code, e.ref_peer_id])).toEqual([...Array(10).keys()].map((i) => ['UNKNOWN_PEER', ghost(i)]));
    expect(await relayKeys()).toEqual([]);
    // Nothing was charged: the first real frame is all the project has relayed today.
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(500) });
    await bob.waitFor((f) => f.type === 'relay');
    expect((await ada.waitFor<Of<'relay_usage'>>((f) => f.type === 'relay_usage')).project_bytes_today).toBe(500);
    expect((await relayKeys()).filter((k) => k.startsWith('wsp:relay:pair:'))).toHaveLength(1);
  });

  it('a flood of relay frames to made-up consoles ends as TOO_MANY_BAD_FRAMES and leaves nothing in Redis', async () => {
    const one = await instance();
    const { token } = await one.createInvite({ project: 'ghosts', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    for (let i = 0; i < 3000; i++) ada.send({ type: 'relay', to_peer_id: ghost(i), payload: new Uint8Array(1000) });
    expect(await ada.waitForClose(10_000)).toBe(4011);
    // The tolerance (20) is answered, then the close: never one answer per frame of the flood.
    expect(ada.errors().filter((e) => e.code === 'UNKNOWN_PEER')).toHaveLength(20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await relayKeys()).toEqual([]);
  });

  it('frames crossing a departure at another instance are refused without counting as bad frames', async () => {
    const tolerant = { limits: { badFrameTolerance: 2 } };
    const [one, two] = [await instance(tolerant), await instance(tolerant)];
    const { token } = await one.createInvite({ project: 'ghosts', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    await bob.close();
    await ada.waitFor((f) => f.type === 'peer_left');
    for (let i = 0; i < 5; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(100) });
    ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array(1) });
    await ada.waitFor(() => ada.errors().length === 6);
    expect(new Set(ada.errors().map((e) => e.code))).toEqual(new Set(['UNKNOWN_PEER']));
    expect(ada.closeCode).toBeUndefined();
    expect(await relayKeys()).toEqual([]);
  });

  it('an invite revoked at one instance is refused at every instance, and consoles it admitted elsewhere are disconnected; consoles at any instance are told they were removed', async () => {
    const [one, two] = [await instance(), await instance()];
    const leaked = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const kept = await one.createInvite({ project: 'scale', ttlMs: 60_000 });
    const ada = await joinAt(one, kept.token, 'Ada');
    const mallory = await joinAt(two, leaked.token, 'Mallory');
    await ada.waitFor((f) => f.type === 'peer_joined');
    await one.revokeInvite(leaked.id);
    expect(await mallory.waitForClose()).toBe(4012);
    expect(await ada.waitFor((f) => f.type === 'peer_left' && f.peer_id === mallory.identity.peerId)).toMatchObject({ reason: 'kicked' });
    const again = await joinAt(two, leaked.token, 'Mallory');
    expect(again.errors()[0]?.code).toBe('INVITE_REVOKED');
    // An instance that starts later learns it from Redis too.
    const three = await instance();
    expect((await joinAt(three, leaked.token, 'Mallory')).errors()[0]?.code).toBe('INVITE_REVOKED');
  });

  it('a pair’s relay budget survives a reconnect to another instance', async () => {
    const budget = { relayBudget: { pairBytesPerSecond: 10_000 } };
    const [one, two] = [await instance(budget), await instance(budget)];
    const { token } = await one.createInvite({ project: 'budget', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(one, token, 'Bob');
    for (let i = 0; i < 4; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000) });
    await bob.waitFor(() => bob.frames.filter((f) => f.type === 'relay').length === 4);
    await ada.close();
    await bob.waitFor((f) => f.type === 'peer_left');
    const again = await joinAt(two, token, 'Ada', ada.identity);
    again.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000) });
    expect(await again.waitFor<Of<'error'>>((f) => f.type === 'error')).toMatchObject({ code: 'RELAY_OVER_BUDGET', ref_peer_id: bob.identity.peerId });
    expect(bob.frames.filter((f) => f.type === 'relay')).toHaveLength(4);
  });

  it('a project’s daily relay budget holds exactly when frames enter two instances at once', async () => {
    const budget = { relayBudget: { projectBytesPerDay: 10_000 } };
    const [one, two] = [await instance(budget), await instance(budget)];
    const { token } = await one.createInvite({ project: 'budget', ttlMs: 60_000 });
    const ada = await joinAt(one, token, 'Ada');
    const bob = await joinAt(two, token, 'Bob');
    // Both instances see an unused budget; together they are offered 12 000 bytes.
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(6000) });
    bob.send({ type: 'relay', to_peer_id: ada.identity.peerId, payload: new Uint8Array(6000) });
    const outcomes = () => [ada, bob].flatMap((c) => c.frames.filter((f) => f.type === 'relay' || (f.type === 'error' && f.code === 'RELAY_OVER_BUDGET')));
    await expect.poll(() => outcomes().length).toBe(2);
    expect(outcomes().map((f) => f.type).sort()).toEqual(['error', 'relay']);
  });
});
