/**
 * The early hello (docs/PROTOCOL.md §3): a hello carried in the upgrade's Sec-WebSocket-Protocol
 * is welcomed with no challenge, in the upgrade's turn; one the registry cannot take for freshness
 * (made too far from its clock, or replayed) gets the challenge as before; a malformed or
 * wrongly signed one is refused with a clear error. Real `ws` sockets and the console's own
 * SignalingClient against a real registry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { startTestRegistry } from '../../support/registry-fixture';
import { decodeClientFrame, encodeFrame } from '../../../src-shared/protocol/codec';
import { TestClient, earlyHello } from '../../support/registry-client';
import { createIdentity, derivePeerId, ed25519Verify, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { EARLY_HELLO_PREFIX, MAX_EARLY_HELLO_CHARS, earlyHelloProtocols, readEarlyHello } from '../../../src-shared/protocol/early-hello';
import { PROTOCOL_VERSION, type EarlyHelloFrame, type ServerFrame } from '../../../src-shared/protocol/signaling';
import type { RegistryHandle, RegistryOptions } from '../../../src-main/registry/registry';
import type { SignalingClient } from '../../../src-renderer/engine/signaling-client';
import { nodeSignalingClient } from '../engine/node-signaling-client';

let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];
let consoles: SignalingClient[] = [];

afterEach(async () => {
  for (const c of consoles) c.stop();
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  clients = [];
  consoles = [];
});

async function registry(options: RegistryOptions = {}) {
  const r = await startTestRegistry(options);
  registries.push(r);
  return r;
}

/** Opens a socket offering `protocols`, as a console does; resolves once open, with the subprotocol selected. */
async function openOffering(r: RegistryHandle, protocols: string[], identity?: SecretIdentity): Promise<TestClient> {
  const client = await TestClient.open(r.url, identity, undefined, protocols);
  clients.push(client);
  return client;
}

async function metric(r: RegistryHandle, result: string): Promise<number> {
  const text = await (await fetch(`${r.httpUrl}/metrics`)).text();
  return Number(new RegExp(`^wsp_registry_early_hellos_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** The console's own SignalingClient (signing its early hellos), started and welcomed. */
async function welcomedConsole(r: RegistryHandle, invite: string): Promise<SignalingClient> {
  const client = await nodeSignalingClient({ url: r.url, invite });
  consoles.push(client);
  const welcomed = new Promise((resolve) => client.on('welcome', resolve));
  client.start();
  await welcomed;
  return client;
}

const first = (c: TestClient) => c.waitFor<ServerFrame>(() => true);

describe('early hello', () => {
  it('is welcomed without a challenge, and the registry selects the plain wsp subprotocol', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await createIdentity();
    const client = await openOffering(r, earlyHelloProtocols(await earlyHello(ada, token)), ada);
    expect(client.ws.protocol).toBe('wsp');
    const frame = await first(client);
    expect(frame.type).toBe('welcome');
    expect(client.frames.some((f) => f.type === 'challenge')).toBe(false);
    expect(client.welcome.peer_id).toBe(ada.peerId);
    expect(await metric(r, 'accepted')).toBe(1);
    // A member as any other: the next console sees it.
    const bob = await TestClient.join(r.url, token, { name: 'Bob' });
    clients.push(bob);
    expect(bob.welcome.peers.map((p) => p.display_name)).toEqual(['Ada']);
  });

  it('replayed, it is not admitted again: the replay gets the challenge', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await createIdentity();
    const protocols = earlyHelloProtocols(await earlyHello(ada, token));
    const original = await openOffering(r, protocols, ada);
    expect((await first(original)).type).toBe('welcome');
    const replay = await openOffering(r, protocols);
    expect((await first(replay)).type).toBe('challenge');
    expect(await metric(r, 'replayed')).toBe(1);
    // The original is still the member: nothing replaced it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(original.closeCode).toBeUndefined();
  });

  it('made too far from the registry’s clock, it gets the challenge, and the ordinary hello then admits the console', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await createIdentity();
    for (const skew of [-31_000, 31_000]) {
      const client = await openOffering(r, earlyHelloProtocols(await earlyHello(ada, token, { early_at: Date.now() + skew })), ada);
      expect((await first(client)).type).toBe('challenge');
      await client.hello(token, 'Ada');
      await client.waitFor((f) => f.type === 'welcome');
      client.ws.terminate();
    }
    expect(await metric(r, 'stale')).toBe(2);
  });

  it('signed over another nonce, it is refused as a bad signature', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await createIdentity();
    const hello = await earlyHello(ada, token);
    const client = await openOffering(r, earlyHelloProtocols({ ...hello, early_salt: new Uint8Array(16) }), ada);
    const error = await client.waitFor<Extract<ServerFrame, { type: 'error' }>>((f) => f.type === 'error');
    expect(error.code).toBe('BAD_SIGNATURE');
    expect(error.message).toBe('the early hello’s signature does not match the signing key');
    expect(await client.waitForClose()).toBe(4007);
  });

  it('malformed, it is refused with an error that says what is wrong with it', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const ada = await createIdentity();
    const { early_salt: _missing, ...withoutSalt } = await earlyHello(ada, token);
    const cases: Array<[string, RegExp]> = [
      [`${EARLY_HELLO_PREFIX}not~base64`, /^the hello sent with the upgrade \(Sec-WebSocket-Protocol\) is not valid \(the early hello is not base64url/],
      [`${EARLY_HELLO_PREFIX}AAAA`, /is not valid \(not MessagePack: /],
      [earlyHelloProtocols(withoutSalt as EarlyHelloFrame)[1]!, /is not valid \(invalid hello: early_salt: /],
    ];
    for (const [offered, message] of cases) {
      const client = await openOffering(r, ['wsp', offered], ada);
      const error = await client.waitFor<Extract<ServerFrame, { type: 'error' }>>((f) => f.type === 'error');
      expect([error.code, error.message]).toEqual(['AUTH_REQUIRED', expect.stringMatching(message)]);
      expect(await client.waitForClose()).toBe(4003);
    }
  });

  it('one too long for a header is not offered: the console offers wsp alone and answers the challenge', async () => {
    const ada = await createIdentity();
    const hello = await earlyHello(ada, 'x'.repeat(4096), { display_name: 'Ä'.repeat(64) });
    expect(earlyHelloProtocols(hello)).toEqual(['wsp']);
    const fits = earlyHelloProtocols(await earlyHello(ada, 'x'.repeat(400)));
    expect(fits[1]!.length).toBeLessThanOrEqual(MAX_EARLY_HELLO_CHARS);
    const read = readEarlyHello(fits.join(', '));
    expect(read?.ok && read.frame.invite).toBe('x'.repeat(400));
    expect(readEarlyHello('wsp')).toBeUndefined();
  });
});

describe('the console (SignalingClient) and the early hello', () => {
  it('is welcomed in one registry turn: its hello rides with the upgrade', async () => {
    const r = await registry();
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    await welcomedConsole(r, token);
    expect(await metric(r, 'accepted')).toBe(1);
    expect(r.logs.join('')).not.toContain(token); // neither the header nor the invite reaches the log
  });

  it('is admitted by a registry from before the early hello: it selects the first subprotocol (wsp), sends its challenge, and gets an ordinary hello', async () => {
    // What such a registry does, on `ws` without handleProtocols: challenge, check the hello's signature, welcome.
    const old = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => old.once('listening', resolve));
    const seen: Array<{ protocol: string; helloVerified: boolean }> = [];
    old.on('connection', (ws) => {
      const nonce = crypto.getRandomValues(new Uint8Array(32));
      ws.send(encodeFrame({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce }));
      ws.on('message', async (data: Buffer) => {
        const decoded = decodeClientFrame(new Uint8Array(data));
        if (!decoded.ok || decoded.frame.type !== 'hello') return;
        const hello = decoded.frame;
        seen.push({ protocol: ws.protocol, helloVerified: await ed25519Verify(hello.signing_key, signedMessage('registryAuth', nonce), hello.nonce_sig) });
        const welcome = { type: 'welcome', protocol: PROTOCOL_VERSION, peer_id: derivePeerId(hello.signing_key), project_id: 'alpha', peers: [], ice_servers: [], ice_servers_expire_at: 0 };
        ws.send(encodeFrame({ ...welcome, limits: { max_frame_bytes: 65536, frames_per_second: 50, burst: 200, heartbeat_ms: 15_000 } } as ServerFrame));
      });
    });
    try {
      const client = await nodeSignalingClient({ url: `ws://127.0.0.1:${(old.address() as { port: number }).port}/ws`, invite: 'an-invite' });
      consoles.push(client);
      const welcomed = new Promise((resolve) => client.on('welcome', resolve));
      client.start();
      await welcomed;
      expect(seen).toEqual([{ protocol: 'wsp', helloVerified: true }]);
    } finally {
      old.close();
    }
  });

  it('whose clock is five minutes off is still admitted, through the challenge', async () => {
    const r = await registry({ now: () => Date.now() + 5 * 60_000 });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60 * 60_000 });
    await welcomedConsole(r, token);
    expect(await metric(r, 'stale')).toBe(1);
    expect(await metric(r, 'accepted')).toBe(0);
  });
});
