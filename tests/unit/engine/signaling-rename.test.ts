/** A console renames itself on its registry connection, without leaving the project. */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { decode } from '@msgpack/msgpack';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../../src-main/registry/registry';
import { SignalingClient } from '../../../src-renderer/engine/signaling-client';
import { TestClient } from '../../support/registry-client';
import { createIdentity, derivePeerId, type SecretIdentity } from '../../../src-shared/identity';
import { encodeFrame } from '../../../src-shared/protocol/codec';
import { PROTOCOL_VERSION, type ServerFrame } from '../../../src-shared/protocol/signaling';
import { nodeSignalingClient } from './node-signaling-client';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function clientFor(url: string, invite: string, identity: SecretIdentity): Promise<SignalingClient> {
  const client = await nodeSignalingClient({ url, invite, identity, backoff: { baseMs: 50, maxMs: 200 } });
  cleanup.push(() => client.stop());
  return client;
}

describe('renaming on the registry connection', () => {
  it('the others see the new name, with the same joined_at, and the connection stays', async () => {
    const registry: RegistryHandle = await createRegistry({ logger: pino({ level: 'silent' }) });
    cleanup.push(() => registry.close());
    const { token } = await registry.createInvite({ project: 'team', ttlMs: 60_000 });
    const client = await clientFor(registry.url, token, await createIdentity());
    const states: string[] = [];
    client.on('state', (s) => states.push(s.phase));
    client.start();
    await expect.poll(() => client.state.phase).toBe('connected');
    const bob = await TestClient.join(registry.url, token, { name: 'Bob' });
    cleanup.push(() => bob.ws.terminate());

    client.setDisplayName('Ada Lovelace');
    const renamed = await bob.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined');
    expect(renamed.peer.display_name).toBe('Ada Lovelace');
    expect(renamed.peer.joined_at).toBe(bob.welcome.peers[0]!.joined_at);
    expect(states).toEqual(['connecting', 'connected']);
  });

  it('a registry older than update_presence refuses it: the console connects again and its hello carries the new name', async () => {
    // Speaks version 1 as it was before update_presence: any frame it does not know is a BAD_FRAME.
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => new Promise((done) => server.close(done)));
    const hellos: string[] = [];
    server.on('connection', (ws) => {
      const send = (frame: ServerFrame) => ws.send(encodeFrame(frame));
      send({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: new Uint8Array(32) });
      ws.on('message', (data: Buffer) => {
        const frame = decode(data) as { type: string; display_name?: string; signing_key?: Uint8Array };
        if (frame.type === 'hello') {
          hellos.push(frame.display_name!);
          const limits = { max_frame_bytes: 65536, frames_per_second: 50, burst: 200, heartbeat_ms: 15000 };
          send({ type: 'welcome', protocol: PROTOCOL_VERSION, peer_id: derivePeerId(frame.signing_key!), project_id: 'team', peers: [], ice_servers: [], ice_servers_expire_at: 0, limits });
        } else send({ type: 'error', code: 'BAD_FRAME', message: `invalid ${frame.type}: unknown type`, ref_type: frame.type });
      });
    });
    await new Promise((done) => server.once('listening', done));
    const { port } = server.address() as { port: number };
    const client = await clientFor(`ws://127.0.0.1:${port}/ws`, 'a.b.c', await createIdentity());
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.start();
    await expect.poll(() => hellos).toEqual(['Ada']);
    await expect.poll(() => client.state.phase).toBe('connected');

    client.setDisplayName('Ada Lovelace');
    await expect.poll(() => hellos).toEqual(['Ada', 'Ada Lovelace']);
    await expect.poll(() => client.state.phase).toBe('connected');
    expect(errors).toEqual([]);
  });
});
