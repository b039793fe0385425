import { afterEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { startTestRegistry } from '../../support/registry-fixture';
import { TestClient } from '../../support/registry-client';
import type { RegistryHandle, RegistryOptions } from '../../../src-main/registry/registry';
import type { ServerFrame } from '../../../src-shared/protocol/signaling';

let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  clients = [];
});

async function pairOn(options: RegistryOptions = {}) {
  const r = await startTestRegistry(options);
  registries.push(r);
  const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
  const ada = await TestClient.join(r.url, token, { name: 'Ada' });
  const bob = await TestClient.join(r.url, token, { name: 'Bob' });
  clients.push(ada, bob);
  return { r, ada, bob, token };
}

type Of<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

describe('encrypted relay routing', () => {
  it('routes opaque relay blobs by to_peer_id, sets from_peer_id, counts the bytes and reports usage to both', async () => {
    const { r, ada, bob } = await pairOn();
    const blob = crypto.getRandomValues(new Uint8Array(4000));
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: blob });
    const got = await bob.waitFor<Of<'relay'>>((f) => f.type === 'relay');
    expect(got).toEqual({ type: 'relay', from_peer_id: ada.identity.peerId, to_peer_id: bob.identity.peerId, payload: blob });

    const adaUsage = await ada.waitFor<Of<'relay_usage'>>((f) => f.type === 'relay_usage');
    const bobUsage = await bob.waitFor<Of<'relay_usage'>>((f) => f.type === 'relay_usage');
    expect(adaUsage).toMatchObject({ peer_id: bob.identity.peerId, pair_bytes: 4000, project_bytes_today: 4000 });
    expect(bobUsage).toMatchObject({ peer_id: ada.identity.peerId, pair_bytes: 4000 });
    expect(adaUsage.pair_budget_bytes_per_s).toBeGreaterThan(0);

    const metrics = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^wsp_registry_relay_bytes_total 4000$/m);
  });

  it('relay to an unknown console is refused with UNKNOWN_PEER', async () => {
    const { ada } = await pairOn();
    ada.send({ type: 'relay', to_peer_id: 'c'.repeat(26), payload: new Uint8Array(10) });
    const error = await ada.waitFor<Of<'error'>>((f) => f.type === 'error');
    expect(error).toMatchObject({ code: 'UNKNOWN_PEER', ref_type: 'relay' });
  });

  it('a pair over its bytes-per-second budget gets RELAY_OVER_BUDGET for each refused frame; nothing is dropped silently', async () => {
    const { ada, bob } = await pairOn({ relayBudget: { pairBytesPerSecond: 10_000 } });
    // The bucket holds two seconds' worth (20 000 bytes): frames 1–4 pass, 5 and 6 are refused.
    for (let i = 0; i < 6; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000).fill(i) });
    await ada.waitFor(() => ada.errors().filter((e) => e.code === 'RELAY_OVER_BUDGET').length === 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const delivered = bob.frames.filter((f): f is Of<'relay'> => f.type === 'relay');
    expect(delivered.map((f) => f.payload[0])).toEqual([0, 1, 2, 3]);
    expect(ada.errors().find((e) => e.code === 'RELAY_OVER_BUDGET')?.message).toMatch(/10000 bytes\/s/);
    expect(ada.closeCode).toBeUndefined();
  });

  it('a project over its daily budget is refused, with the reason', async () => {
    const { ada, bob } = await pairOn({ relayBudget: { projectBytesPerDay: 3000 } });
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(2000) });
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(2000) });
    const error = await ada.waitFor<Of<'error'>>((f) => f.type === 'error' && f.code === 'RELAY_OVER_BUDGET');
    expect(error.message).toMatch(/relay budget of 3000 bytes today/);
    expect(bob.frames.filter((f) => f.type === 'relay')).toHaveLength(1);
  });

  it('relay frames do not eat the signaling rate limit', async () => {
    const { ada, bob } = await pairOn({ limits: { framesPerSecond: 5, burst: 5 } });
    for (let i = 0; i < 50; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array([i]) });
    await bob.waitFor(() => bob.frames.filter((f) => f.type === 'relay').length === 50);
    expect(ada.errors()).toEqual([]);
  });

  it('relay frames have their own rate limit: a relay flood is dropped with RATE_LIMITED naming it, and signaling still passes', async () => {
    const { ada, bob } = await pairOn({ limits: { relayFramesPerSecond: 10 } });
    for (let i = 0; i < 40; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array([i]) });
    const notice = await ada.waitFor<Of<'error'>>((f) => f.type === 'error');
    expect(notice).toMatchObject({ code: 'RATE_LIMITED', ref_type: 'relay', ref_peer_id: bob.identity.peerId });
    expect(notice.message).toContain('10 relay frames/s');
    ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array([1]) });
    await bob.waitFor((f) => f.type === 'webrtc_ice_candidate');
    const relayed = bob.frames.filter((f) => f.type === 'relay').length;
    expect(relayed).toBeGreaterThanOrEqual(10);
    expect(relayed).toBeLessThan(40);
    expect(ada.closeCode).toBeUndefined();
  });
});

describe('ICE servers and TURN credentials', () => {
  it('welcome carries STUN and TURN with a coturn REST credential that coturn would accept', async () => {
    const secret = 'turn-shared-secret';
    const before = Math.floor(Date.now() / 1000);
    const { ada } = await pairOn({ stunUrls: ['stun:127.0.0.1:3478'], turn: { urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp'], secret, ttlSeconds: 600 } });
    const [stun, turn] = ada.welcome.ice_servers;
    expect(stun).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    const [expiry, peerId] = turn!.username!.split(':');
    expect(peerId).toBe(ada.identity.peerId);
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600);
    expect(Number(expiry)).toBeLessThanOrEqual(before + 602);
    expect(turn!.credential).toBe(createHmac('sha1', secret).update(turn!.username!).digest('base64'));
    expect(ada.welcome.ice_servers_expire_at).toBe(Number(expiry) * 1000);
  });

  it('sends fresh credentials before the old ones expire', async () => {
    const { ada } = await pairOn({ turn: { urls: ['turn:127.0.0.1:3478'], secret: 's', ttlSeconds: 2 } });
    const refreshed = await ada.waitFor<Of<'ice_servers'>>((f) => f.type === 'ice_servers', 3000);
    expect(refreshed.expires_at).toBeGreaterThan(ada.welcome.ice_servers_expire_at);
    expect(refreshed.ice_servers[0]!.username).not.toBe(ada.welcome.ice_servers[0]!.username);
  });

  it('hands out no ICE servers unless configured (tests never touch public servers)', async () => {
    const { ada } = await pairOn();
    expect(ada.welcome.ice_servers).toEqual([]);
    expect(ada.welcome.ice_servers_expire_at).toBe(0);
  });
});

describe('relay frames that reach no console (issue 16, item 8)', () => {
  const ghost = (i: number) => `${'q'.repeat(25)}${'abcdefgh'[i]}`;

  it('to oneself or to a console that was never here: one UNKNOWN_PEER each, counted as bad frames, never charged; too many close the connection', async () => {
    const { r, ada, bob } = await pairOn({ limits: { badFrameTolerance: 5 }, relayBudget: { projectBytesPerDay: 10_000 } });
    ada.send({ type: 'relay', to_peer_id: ada.identity.peerId, payload: new Uint8Array(1000) });
    for (let i = 0; i < 4; i++) ada.send({ type: 'relay', to_peer_id: ghost(i), payload: new Uint8Array(1000) });
    await ada.waitFor(() => ada.errors().length >= 5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ada.errors().map((e) => [e.code, e.ref_peer_id])).toEqual([
      ['UNKNOWN_PEER', ada.identity.peerId],
      ...[0, 1, 2, 3].map((i) => ['UNKNOWN_PEER', ghost(i)]),
    ]);
    // Nothing was charged: the whole daily budget is left for a real frame.
    ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(10_000) });
    await bob.waitFor((f) => f.type === 'relay');
    expect((await ada.waitFor<Of<'relay_usage'>>((f) => f.type === 'relay_usage')).project_bytes_today).toBe(10_000);
    const metrics = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^wsp_registry_bad_frames_total\{code="UNKNOWN_PEER"\} 5$/m);
    ada.send({ type: 'relay', to_peer_id: ghost(5), payload: new Uint8Array(1) });
    expect(await ada.waitForClose()).toBe(4011);
  });

  it('signaling to oneself counts as a bad frame too, even just after a reconnect', async () => {
    const { r, ada: first, token } = await pairOn({ limits: { badFrameTolerance: 1 } });
    await first.close();
    const ada = await TestClient.join(r.url, token, { name: 'Ada', identity: first.identity });
    clients.push(ada);
    ada.send({ type: 'webrtc_offer', to_peer_id: ada.identity.peerId, payload: new Uint8Array(1) });
    ada.send({ type: 'webrtc_ice_candidate', to_peer_id: ada.identity.peerId, payload: new Uint8Array(1) });
    expect(await ada.waitForClose()).toBe(4011);
    expect(ada.errors().map((e) => e.code)).toEqual(['UNKNOWN_PEER', 'TOO_MANY_BAD_FRAMES']);
  });

  it('frames crossing a departure (to a console that just left) are refused but not held against the sender', async () => {
    const { ada, bob } = await pairOn({ limits: { badFrameTolerance: 2 } });
    await bob.close();
    await ada.waitFor((f) => f.type === 'peer_left');
    for (let i = 0; i < 6; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(100) });
    ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array(1) });
    await ada.waitFor(() => ada.errors().length === 7);
    expect(new Set(ada.errors().map((e) => e.code))).toEqual(new Set(['UNKNOWN_PEER']));
    ada.send({ type: 'ping' });
    await ada.waitFor((f) => f.type === 'pong');
    expect(ada.closeCode).toBeUndefined();
  });
});

describe('relay budgets cannot be multiplied (issue 16, item 5)', () => {
  it('reconnecting does not refill the pair’s budget', async () => {
    const { r, ada, bob, token } = await pairOn({ relayBudget: { pairBytesPerSecond: 10_000 } });
    // The bucket holds two seconds' worth: 20 000 bytes, all spent.
    for (let i = 0; i < 4; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000) });
    await bob.waitFor(() => bob.frames.filter((f) => f.type === 'relay').length === 4);
    await ada.close();
    await bob.waitFor((f) => f.type === 'peer_left');
    const again = await TestClient.join(r.url, token, { name: 'Ada', identity: ada.identity });
    clients.push(again);
    again.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000) });
    const refused = await again.waitFor<Of<'error'>>((f) => f.type === 'error');
    expect(refused).toMatchObject({ code: 'RELAY_OVER_BUDGET', ref_peer_id: bob.identity.peerId });
    expect(bob.frames.filter((f) => f.type === 'relay')).toHaveLength(4);
  });

  it('every console of a project — however many identities one invite admitted — shares the project’s relay rate', async () => {
    const { r, ada, bob, token } = await pairOn({ relayBudget: { pairBytesPerSecond: 10_000, projectBytesPerSecond: 15_000 } });
    const carol = await TestClient.join(r.url, token, { name: 'Carol' });
    const dan = await TestClient.join(r.url, token, { name: 'Dan' });
    clients.push(carol, dan);
    // Each pair may burst 20 000 bytes; the project 30 000, whichever pairs send them.
    for (let i = 0; i < 4; i++) ada.send({ type: 'relay', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000) });
    await bob.waitFor(() => bob.frames.filter((f) => f.type === 'relay').length === 4);
    for (let i = 0; i < 3; i++) carol.send({ type: 'relay', to_peer_id: dan.identity.peerId, payload: new Uint8Array(5000) });
    const refused = await carol.waitFor<Of<'error'>>((f) => f.type === 'error');
    expect(refused.code).toBe('RELAY_OVER_BUDGET');
    expect(refused.message).toMatch(/project alpha .*15000 bytes\/s/);
    expect(dan.frames.filter((f) => f.type === 'relay')).toHaveLength(2);
  });
});
