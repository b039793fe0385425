/** The console's engine says what it is in presence: the `client` option of SignalingClient reaches peers. */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createRegistry } from '../../../src-main/registry/registry';
import { TestClient } from '../../support/registry-client';
import type { ClientInfo, ServerFrame } from '../../../src-shared/protocol/signaling';
import { nodeSignalingClient } from './node-signaling-client';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function joinedAs(client: ClientInfo | undefined): Promise<Extract<ServerFrame, { type: 'peer_joined' }>['peer']> {
  const registry = await createRegistry({ logger: pino({ level: 'silent' }) });
  cleanup.push(() => registry.close());
  const { token } = await registry.createInvite({ project: 'team', ttlMs: 60_000 });
  const bob = await TestClient.join(registry.url, token, { name: 'Bob' });
  cleanup.push(() => bob.ws.terminate());
  const signaling = await nodeSignalingClient({ url: registry.url, invite: token, displayName: 'build-bot', ...(client ? { client } : {}) });
  cleanup.push(() => signaling.stop());
  signaling.start();
  return (await bob.waitFor<Extract<ServerFrame, { type: 'peer_joined' }>>((f) => f.type === 'peer_joined')).peer;
}

describe('SignalingClient client descriptor', () => {
  it('an agent says so in its hello, and its peers see kind, software and version', async () => {
    const peer = await joinedAs({ kind: 'agent', software: 'build-bot', version: '0.1.0' });
    expect(peer.client).toEqual({ kind: 'agent', software: 'build-bot', version: '0.1.0' });
  });

  it('without the option the hello carries none (peers show a console)', async () => {
    expect(await joinedAs(undefined)).not.toHaveProperty('client');
  });
});
