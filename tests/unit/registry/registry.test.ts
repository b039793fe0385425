import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { encode } from '@msgpack/msgpack';
import { startTestRegistry } from '../../support/registry-fixture';
import { TestClient } from '../../support/registry-client';
import { createIdentity, ed25519Sign } from '../../../src-shared/identity';
import { InviteAuthority } from '../../../src-main/registry/invites';
import type { RegistryHandle } from '../../../src-main/registry/registry';
import { MAX_SIGNAL_PAYLOAD_BYTES, type ServerFrame } from '../../../src-shared/protocol/signaling';

let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];

/**
 * Every way a key could reach a log line: base64 (padded or not), base64url, hex, and what pino
 * writes for the key passed as a field (a Uint8Array, and a Buffer, each as the logger renders it).
 */
function renderings(key: Uint8Array): string[] {
  const buffer = Buffer.from(key);
  const rendered = (value: unknown) => {
    let line = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        line += chunk.toString();
        done();
      },
    });
    pino(sink).info({ value });
    return /"value":(.+)}\s*$/.exec(line)![1]!;
  };
  const pinoUint8Array = rendered(new Uint8Array(key));
  const pinoBuffer = rendered(buffer);
  expect(pinoUint8Array).toContain(`"1":${key[1]}`); // the renderings are what they claim to be
  expect(pinoBuffer).toContain(Array.from(key).join(','));
  return [buffer.toString('base64'), buffer.toString('base64').replace(/=+$/, ''), buffer.toString('base64url'), buffer.toString('hex'), pinoUint8Array.slice(1, -1), Array.from(key).join(',')];
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function registry(options: Parameters<typeof startTestRegistry>[0] = {}) {
  const r = await startTestRegistry(options);
  registries.push(r);
  return r;
}

async function joinAs(r: RegistryHandle, invite: string, name?: string, identity?: Awaited<ReturnType<typeof createIdentity>>) {
  const client = await TestClient.join(r.url, invite, { name, identity });
  clients.push(client);
  return client;
}

async function open(r: RegistryHandle) {
  const client = await TestClient.open(r.url);
  clients.push(client);
  return client;
}

const isError = (code: string) => (f: ServerFrame) => f.type === 'error' && f.code === code;

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  clients = [];
});

describe('joining', () => {
  it('two consoles with the same invite see each other, with keys and names', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    expect(ada.welcome.peers).toEqual([]);
    expect(ada.welcome.peer_id).toBe(ada.identity.peerId);
    expect(ada.welcome.project_id).toBe('alpha');

    const bob = await joinAs(r, token, 'Bob');
    expect(bob.welcome.peers.map((p) => [p.peer_id, p.display_name])).toEqual([[ada.identity.peerId, 'Ada']]);
    expect(bob.welcome.peers[0]!.signing_key).toEqual(ada.identity.signingPublicKey);
    const joined = await ada.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined');
    expect(joined.peer.peer_id).toBe(bob.identity.peerId);
    expect(joined.peer.display_name).toBe('Bob');
  });

  it('what a peer says it is (agent, software, version) reaches the others in welcome and peer_joined; a console that says nothing carries no descriptor', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bot = await TestClient.join(r.url, token, { name: 'build-bot', client: { kind: 'agent', software: 'build-bot', version: '0.1.0' } });
    clients.push(bot);
    expect(bot.welcome.peers[0]).not.toHaveProperty('client');
    const joined = await ada.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined');
    expect(joined.peer.client).toEqual({ kind: 'agent', software: 'build-bot', version: '0.1.0' });
    const carol = await joinAs(r, token, 'Carol');
    expect(carol.welcome.peers.find((p) => p.peer_id === bot.identity.peerId)?.client).toEqual({ kind: 'agent', software: 'build-bot', version: '0.1.0' });
    // A rename keeps the descriptor.
    bot.send({ type: 'update_presence', display_name: 'build-bot-2' });
    const renamed = await ada.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined' && f.peer.display_name === 'build-bot-2');
    expect(renamed.peer.client?.kind).toBe('agent');
  });

  it('a hello with a bad client descriptor is refused, the message naming what is wrong, and nobody hears of it', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bad: Array<[unknown, RegExp]> = [
      [{ kind: 'robot', software: 'x', version: '1' }, /client\.kind/],
      [{ kind: 'agent', software: 'x'.repeat(65), version: '1' }, /client\.software: software: 1–64 printable ASCII/],
      [{ kind: 'agent', software: 'bot\u202e', version: '1' }, /client\.software/],
      [{ kind: 'agent', software: 'bot', version: '1'.repeat(33) }, /client\.version: version: 1–32/],
      [{ kind: 'agent', software: 'bot' }, /client\.version/],
    ];
    for (const [client, message] of bad) {
      const c = await open(r);
      await c.hello(token, 'Mallory', { client } as never);
      const error = await c.waitFor<Extract<ServerFrame, { type: 'error' }>>((f) => f.type === 'error');
      expect(error.code).toBe('AUTH_REQUIRED');
      expect(error.message).toMatch(/^the first frame must be a valid hello \(invalid hello: /);
      expect(error.message).toMatch(message);
      expect(await c.waitForClose()).toBe(4003);
    }
    expect(ada.frames.filter((f) => f.type === 'peer_joined')).toEqual([]);
  });

  it('a console that leaves is announced to the others', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    await bob.close();
    const left = await ada.waitFor<Extract<ServerFrame, { type: 'peer_left' }>>((f) => f.type === 'peer_left');
    expect(left).toMatchObject({ peer_id: bob.identity.peerId, reason: 'closed' });
  });

  it('a console that renames itself keeps its connection: the others get its presence again with the new name, the same keys and joined_at', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    const before = bob.welcome.peers[0]!;
    ada.send({ type: 'update_presence', display_name: '  Ada Lovelace ' });
    const renamed = await bob.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined');
    expect(renamed.peer).toEqual({ ...before, display_name: 'Ada Lovelace' });
    const carol = await joinAs(r, token, 'Carol');
    expect(carol.welcome.peers.find((p) => p.peer_id === ada.identity.peerId)?.display_name).toBe('Ada Lovelace');
    // A name the schema refuses changes nothing; the console stays.
    ada.send({ type: 'update_presence', display_name: ' ' });
    expect(await ada.waitFor(isError('BAD_FRAME'))).toMatchObject({ ref_type: 'update_presence' });
    expect(ada.frames.some((f) => f.type === 'peer_joined' && f.peer.peer_id === ada.identity.peerId)).toBe(false);
    expect(bob.frames.filter((f) => f.type === 'peer_joined' && f.peer.peer_id === ada.identity.peerId)).toHaveLength(1);
    expect(ada.closeCode).toBeUndefined();
    // A right-to-left override would make "ecilA" read "Alice" to the others: the registry takes it out.
    ada.send({ type: 'update_presence', display_name: '\u202eecilA' });
    const spoof = await bob.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined' && f.peer.peer_id === ada.identity.peerId && f.peer.display_name !== 'Ada Lovelace');
    expect(spoof.peer.display_name).toBe('ecilA');
  });

  it('keeps projects apart: no presence and no routing across projects', async () => {
    const r = await registry();
    const a = await joinAs(r, (await r.createInvite({ project: 'alpha', ttlMs: 60_000 })).token, 'A');
    const b = await joinAs(r, (await r.createInvite({ project: 'beta', ttlMs: 60_000 })).token, 'B');
    expect(b.welcome.peers).toEqual([]);
    b.send({ type: 'webrtc_offer', to_peer_id: a.identity.peerId, payload: new Uint8Array([1]) });
    const error = await b.waitFor(isError('UNKNOWN_PEER'));
    expect(error).toMatchObject({ ref_type: 'webrtc_offer' });
    expect(a.frames.some((f) => f.type === 'peer_joined' || f.type === 'webrtc_offer')).toBe(false);
  });
});

describe('refusing bad invites and keys', () => {
  it('an expired invite is refused with INVITE_EXPIRED and close 4005', async () => {
    let clock = Date.now();
    const r = await registry({ now: () => clock });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    clock += 61_000;
    const c = await joinAs(r, token);
    expect(c.errors()[0]!.code).toBe('INVITE_EXPIRED');
    expect(await c.waitForClose()).toBe(4005);
  });

  it('an invite signed by another registry is refused with INVITE_INVALID and close 4004', async () => {
    const r = await registry();
    const forged = await new InviteAuthority(crypto.getRandomValues(new Uint8Array(32))).issue({ project: 'alpha', ttlMs: 60_000 });
    const c = await joinAs(r, forged);
    expect(c.errors()[0]!.code).toBe('INVITE_INVALID');
    expect(await c.waitForClose()).toBe(4004);
  });

  it('a token that is not a JWT is refused with INVITE_INVALID', async () => {
    const r = await registry();
    const c = await joinAs(r, 'not-a-token');
    expect(c.errors()[0]!.code).toBe('INVITE_INVALID');
    expect(await c.waitForClose()).toBe(4004);
  });

  it('a challenge signed by a different key is refused with BAD_SIGNATURE', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const impostor = await createIdentity();
    const c = await open(r);
    await c.hello(token, 'x', { nonce_sig: await ed25519Sign(impostor.signingSecretKey, new Uint8Array(32)) });
    expect((await c.waitFor(isError('BAD_SIGNATURE'))).type).toBe('error');
    expect(await c.waitForClose()).toBe(4007);
  });

  it('a box key not signed by the signing key is refused with BAD_SIGNATURE', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const other = await createIdentity();
    const c = await open(r);
    await c.hello(token, 'x', { box_key: other.boxPublicKey });
    await c.waitFor(isError('BAD_SIGNATURE'));
    expect(await c.waitForClose()).toBe(4007);
  });

  it('claiming another console’s key without its secret cannot join as it', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const victim = await joinAs(r, token, 'Victim');
    const attacker = await createIdentity();
    const c = await open(r);
    // The attacker presents the victim's public keys but can only sign with its own secret.
    await c.hello(token, 'Victim', {
      signing_key: victim.identity.signingPublicKey,
      box_key: victim.identity.boxPublicKey,
      box_key_sig: victim.identity.boxKeySignature,
      nonce_sig: await ed25519Sign(attacker.signingSecretKey, new Uint8Array(32)),
    });
    await c.waitFor(isError('BAD_SIGNATURE'));
    expect(victim.closeCode).toBeUndefined();
  });

  it('an invite with a use limit admits that many distinct consoles; a returning console is not counted twice', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000, maxUses: 1 });
    const identity = await createIdentity();
    const first = await joinAs(r, token, 'First', identity);
    expect(first.welcome.peer_id).toBe(identity.peerId);
    await first.close();
    const again = await joinAs(r, token, 'First', identity);
    expect(again.welcome.peer_id).toBe(identity.peerId);
    const second = await joinAs(r, token, 'Second');
    expect(second.errors()[0]!.code).toBe('INVITE_EXHAUSTED');
    expect(await second.waitForClose()).toBe(4006);
  });

  it('a console speaking another protocol version is refused with PROTOCOL_UNSUPPORTED', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const c = await open(r);
    await c.hello(token, 'x', { protocol: 99 });
    await c.waitFor(isError('PROTOCOL_UNSUPPORTED'));
    expect(await c.waitForClose()).toBe(4001);
  });

  it('a connection that never says hello is closed at the auth deadline with AUTH_TIMEOUT', async () => {
    const r = await registry({ limits: { authTimeoutMs: 200 } });
    const c = await open(r);
    await c.waitFor(isError('AUTH_TIMEOUT'));
    expect(await c.waitForClose()).toBe(4002);
  });

  it('an unauthenticated connection that sends anything but hello gets only an error and a close', async () => {
    const r = await registry();
    const a = await open(r);
    a.send({ type: 'webrtc_offer', to_peer_id: 'a'.repeat(26), payload: new Uint8Array(1) });
    await a.waitFor(isError('AUTH_REQUIRED'));
    expect(await a.waitForClose()).toBe(4003);
    const b = await open(r);
    b.sendRaw(new Uint8Array([0xc1, 0xff, 0x00]));
    await b.waitFor(isError('AUTH_REQUIRED'));
    expect(await b.waitForClose()).toBe(4003);
    expect(a.frames.map((f) => f.type)).toEqual(['challenge', 'error']);
  });
});

describe('bad frames from a member', () => {
  async function pair() {
    const r = await registry({ limits: { badFrameTolerance: 5, maxFrameBytes: 4096 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    return { r, ada, bob };
  }

  it('garbage, unknown types, wrong shapes and text frames each get BAD_FRAME and the console keeps working', async () => {
    const { ada, bob } = await pair();
    ada.sendRaw(new Uint8Array([0xc1, 0x00, 0x13]));
    ada.sendValue({ type: 'teleport', to_peer_id: bob.identity.peerId });
    ada.sendValue({ type: 'webrtc_offer', to_peer_id: 'not an id', payload: new Uint8Array(1) });
    ada.sendRaw('{"type":"webrtc_offer"}');
    await ada.waitFor((f) => ada.errors().filter((e) => e.code === 'BAD_FRAME').length === 4 && f.type === 'error');
    expect(ada.errors().find((e) => e.ref_type === 'webrtc_offer')?.message).toMatch(/to_peer_id/);
    ada.send({ type: 'webrtc_offer', to_peer_id: bob.identity.peerId, payload: new Uint8Array([7]) });
    const offer = await bob.waitFor((f) => f.type === 'webrtc_offer');
    expect(offer).toMatchObject({ from_peer_id: ada.identity.peerId, payload: new Uint8Array([7]) });
    expect(ada.closeCode).toBeUndefined();
  });

  it('keeps sending garbage and is closed with TOO_MANY_BAD_FRAMES', async () => {
    const { ada } = await pair();
    for (let i = 0; i < 7; i++) ada.sendRaw(new Uint8Array([0xc1]));
    expect(await ada.waitForClose()).toBe(4011);
  });

  it('a frame over the size limit gets FRAME_TOO_LARGE and the connection lives; far over it is closed 1009', async () => {
    const { ada, bob } = await pair();
    ada.sendValue({ type: 'webrtc_offer', to_peer_id: bob.identity.peerId, payload: new Uint8Array(5000) });
    const error = await ada.waitFor(isError('FRAME_TOO_LARGE'));
    expect(error.type === 'error' && error.message).toMatch(/5\d{3} bytes exceeds the maximum of 4096/);
    ada.send({ type: 'webrtc_answer', to_peer_id: bob.identity.peerId, payload: new Uint8Array([1]) });
    await bob.waitFor((f) => f.type === 'webrtc_answer');
    expect(bob.frames.some((f) => f.type === 'webrtc_offer')).toBe(false);
    ada.sendRaw(new Uint8Array(4096 * 4 + 1));
    expect(await ada.waitForClose()).toBe(1009);
  });

  it('a second hello gets ALREADY_AUTHENTICATED and changes nothing', async () => {
    const { ada } = await pair();
    await ada.hello('whatever');
    await ada.waitFor(isError('ALREADY_AUTHENTICATED'));
    expect(ada.closeCode).toBeUndefined();
  });
});

describe('routing signaling', () => {
  it('routes offer, answer and ICE candidate by to_peer_id, setting from_peer_id itself', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    const carol = await joinAs(r, token, 'Carol');
    const sdp = new TextEncoder().encode('v=0 this is not parsed by the registry');
    for (const type of ['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate'] as const) {
      // A forged from_peer_id is not part of the schema and cannot survive.
      ada.sendValue({ type, to_peer_id: bob.identity.peerId, from_peer_id: carol.identity.peerId, payload: sdp });
      const got = await bob.waitFor((f) => f.type === type);
      expect(got).toEqual({ type, from_peer_id: ada.identity.peerId, to_peer_id: bob.identity.peerId, payload: sdp });
      // As every console sends it (the three entries alone): forwarded as received, from_peer_id added.
      bob.send({ type, to_peer_id: ada.identity.peerId, payload: sdp });
      expect(await ada.waitFor((f) => f.type === type)).toEqual({ type, from_peer_id: bob.identity.peerId, to_peer_id: ada.identity.peerId, payload: sdp });
    }
    // The largest payload too (a 16-bit WebSocket length on the forwarded message).
    const large = new Uint8Array(MAX_SIGNAL_PAYLOAD_BYTES).fill(5);
    bob.send({ type: 'webrtc_offer', to_peer_id: ada.identity.peerId, payload: large });
    expect(await ada.waitFor((f) => f.type === 'webrtc_offer' && f.payload.length === large.length)).toEqual({ type: 'webrtc_offer', from_peer_id: bob.identity.peerId, to_peer_id: ada.identity.peerId, payload: large });
    expect(carol.frames.some((f) => f.type.startsWith('webrtc_'))).toBe(false);
  });

  it('a burst of frames to one console arrives whole and in order, in a few socket writes rather than one per frame', async () => {
    const r = await registry({ limits: { burst: 1000 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    const port = Number(new URL(r.url).port);
    // Counts the registry's writes on its side of the sockets (same process): each is a system call.
    const proto = Socket.prototype as unknown as Record<'_writev' | '_write', (this: Socket, ...args: unknown[]) => unknown>;
    const originals = { _writev: proto._writev, _write: proto._write };
    let writes = 0;
    for (const name of ['_writev', '_write'] as const) {
      proto[name] = function (this: Socket, ...args: unknown[]) {
        if (this.localPort === port) writes++;
        return originals[name].apply(this, args);
      };
    }
    const N = 300; // within the raised burst: the rate limit is tested below
    try {
      // Sent in one go, as a console trickling candidates does, so they reach the registry together.
      const socket = (ada.ws as unknown as { _socket: Socket })._socket;
      socket.cork();
      for (let i = 0; i < N; i++) ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array([i >> 8, i & 0xff]) });
      socket.uncork();
      await bob.waitFor(() => bob.frames.filter((f) => f.type === 'webrtc_ice_candidate').length === N);
    } finally {
      Object.assign(proto, originals);
    }
    const got = bob.frames.filter((f): f is Extract<ServerFrame, { type: 'webrtc_ice_candidate' }> => f.type === 'webrtc_ice_candidate');
    expect(got.map((f) => (f.payload[0]! << 8) | f.payload[1]!)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(N / 10);
  });

  it('signaling to an unknown peer or to oneself gets UNKNOWN_PEER', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    ada.send({ type: 'webrtc_offer', to_peer_id: 'b'.repeat(26), payload: new Uint8Array(1) });
    ada.send({ type: 'webrtc_offer', to_peer_id: ada.identity.peerId, payload: new Uint8Array(1) });
    await ada.waitFor(() => ada.errors().filter((e) => e.code === 'UNKNOWN_PEER').length === 2);
    expect(ada.closeCode).toBeUndefined();
  });
});

describe('limits', () => {
  it('a flood is rate limited (RATE_LIMITED), and a console that keeps flooding is closed with FLOOD', async () => {
    const r = await registry({ limits: { framesPerSecond: 10, burst: 10, floodTolerance: 50 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    for (let i = 0; i < 30; i++) ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array([i]) });
    await ada.waitFor(isError('RATE_LIMITED'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const delivered = bob.frames.filter((f) => f.type === 'webrtc_ice_candidate').length;
    expect(delivered).toBeGreaterThanOrEqual(8);
    expect(delivered).toBeLessThan(30);
    expect(ada.closeCode).toBeUndefined();
    // The others are unaffected.
    bob.send({ type: 'webrtc_answer', to_peer_id: ada.identity.peerId, payload: new Uint8Array([1]) });
    await ada.waitFor((f) => f.type === 'webrtc_answer');
    for (let i = 0; i < 100; i++) ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array([i]) });
    expect(await ada.waitForClose()).toBe(4010);
  });

  it('RATE_LIMITED names the dropped frame: its type and the console it was for', async () => {
    const r = await registry({ limits: { framesPerSecond: 10, burst: 10 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    for (let i = 0; i < 12; i++) ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array([i]) });
    const notice = await ada.waitFor(isError('RATE_LIMITED'));
    expect(notice).toMatchObject({ ref_type: 'webrtc_ice_candidate', ref_peer_id: bob.identity.peerId });
  });

  it('answers a ping with a pong, after welcome only', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const early = await open(r);
    early.send({ type: 'ping' });
    expect(await early.waitFor(isError('AUTH_REQUIRED'))).toMatchObject({ ref_type: 'ping' });
    const ada = await joinAs(r, token, 'Ada');
    ada.send({ type: 'ping' });
    await ada.waitFor((f) => f.type === 'pong');
    expect(ada.errors()).toEqual([]);
  });

  it('a dead connection (no pong) is terminated within the heartbeat and its peers see it leave', async () => {
    const r = await registry({ limits: { heartbeatMs: 100 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const zombie = await TestClient.open(r.url.replace('ws://', 'ws://'), undefined);
    clients.push(zombie);
    // Stop answering pings, as a vanished laptop would.
    (zombie.ws as unknown as { _autoPong: boolean })._autoPong = false;
    await zombie.hello(token, 'Zombie');
    await zombie.waitFor((f) => f.type === 'welcome');
    const left = await ada.waitFor((f) => f.type === 'peer_left', 2000);
    expect(left).toMatchObject({ peer_id: zombie.identity.peerId, reason: 'timeout' });
  });

  it('refuses a console beyond the project size with PROJECT_FULL', async () => {
    const r = await registry({ limits: { maxPeersPerProject: 2 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    await joinAs(r, token, 'A');
    await joinAs(r, token, 'B');
    const c = await joinAs(r, token, 'C');
    expect(c.errors()[0]!.code).toBe('PROJECT_FULL');
    expect(await c.waitForClose()).toBe(4008);
  });

  it('the same key connecting twice: the newer connection wins, the older is told REPLACED', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const identity = await createIdentity();
    const watcher = await joinAs(r, token, 'Watcher');
    const old = await joinAs(r, token, 'Laptop', identity);
    const fresh = await joinAs(r, token, 'Laptop (restarted)', identity);
    await old.waitFor(isError('REPLACED'));
    expect(await old.waitForClose()).toBe(4009);
    expect(fresh.welcome.peers.map((p) => p.display_name)).toEqual(['Watcher']);
    const announcements = () => watcher.frames.filter((f) => f.type === 'peer_joined' || f.type === 'peer_left');
    await watcher.waitFor(() => announcements().length === 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(announcements().map((f) => f.type)).toEqual(['peer_joined', 'peer_joined']);
    // Routing reaches the new connection.
    watcher.send({ type: 'webrtc_offer', to_peer_id: identity.peerId, payload: new Uint8Array([1]) });
    await fresh.waitFor((f) => f.type === 'webrtc_offer');
  });
});

describe('operations', () => {
  it('serves /healthz and Prometheus /metrics with connections, projects, frames, bytes and errors by code', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    await joinAs(r, token, 'Ada');
    const bad = await joinAs(r, 'garbage');
    await bad.waitForClose();
    const health = await (await fetch(`${r.httpUrl}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', consoles: 1, projects: 1 });
    const metrics = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^wsp_registry_consoles 1$/m);
    expect(metrics).toMatch(/^wsp_registry_projects 1$/m);
    expect(metrics).toMatch(/^wsp_registry_errors_total\{code="INVITE_INVALID"\} 1$/m);
    expect(metrics).toMatch(/^wsp_registry_bytes_total\{direction="in"\} \d+/m);
  });

  it('counts relayed signals in /metrics, scrape after scrape', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    const bob = await joinAs(r, token, 'Bob');
    const scrape = async () => (await fetch(`${r.httpUrl}/metrics`)).text();
    const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    const before = await scrape();
    for (let i = 1; i <= 3; i++) {
      ada.send({ type: 'webrtc_ice_candidate', to_peer_id: bob.identity.peerId, payload: new Uint8Array(10) });
      await bob.waitFor(() => bob.frames.filter((f) => f.type === 'webrtc_ice_candidate').length === i);
      const text = await scrape();
      expect(value(text, 'wsp_registry_frames_total{direction="out",type="webrtc_ice_candidate"}')).toBe(i);
      expect(value(text, 'wsp_registry_signaling_bytes_total')).toBe(10 * i);
      expect(value(text, 'wsp_registry_frames_total{direction="in",type="any"}')).toBe(value(before, 'wsp_registry_frames_total{direction="in",type="any"}') + i);
      expect(value(text, 'wsp_registry_bytes_total{direction="out"}')).toBeGreaterThan(value(before, 'wsp_registry_bytes_total{direction="out"}'));
    }
  });

  it('never writes invites or keys to its log', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await joinAs(r, token, 'Ada');
    await joinAs(r, token.slice(0, -3) + 'abc');
    await ada.close();
    // Both ends were logged (the refusal, the departure): what is checked below is all there is.
    await until(() => r.logs.some((l) => l.includes('connection refused')) && r.logs.some((l) => l.includes('console left')));
    const log = r.logs.join('');
    expect(log).toContain('console joined');
    expect(log).not.toContain(token.split('.')[2]);
    for (const rendering of renderings(ada.identity.signingPublicKey)) expect(log).not.toContain(rendering);
  });

  it('keeps its signing secret in the data folder, so invites survive a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wsp-registry-'));
    const first = await registry({ dataDir });
    const { token } = await first.createInvite({ project: 'alpha', ttlMs: 60_000 });
    await first.close();
    const second = await registry({ dataDir });
    const c = await joinAs(second, token, 'Ada');
    expect(c.welcome.project_id).toBe('alpha');
  });

  it('refuses WebSocket upgrades on other paths', async () => {
    const r = await registry();
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(r.url.replace('/ws', '/elsewhere'));
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('error', (e) => resolve(e.message));
    });
    expect(outcome).toMatch(/404/);
  });
});

void encode;
