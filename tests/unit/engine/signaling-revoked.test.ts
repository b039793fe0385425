/** A console whose invite is revoked stops, says why, and does not hammer the registry with retries. */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../../src-main/registry/registry';
import { SignalingClient, type RegistryState } from '../../../src-renderer/engine/signaling-client';
import { nodeSignalingClient } from './node-signaling-client';

let registry: RegistryHandle | undefined;
let client: SignalingClient | undefined;
afterEach(async () => {
  client?.stop();
  await registry?.close();
});

describe('a revoked invite', () => {
  it('disconnects the console, which shows INVITE_REVOKED and stops retrying', async () => {
    registry = await createRegistry({ logger: pino({ level: 'silent' }) });
    const { token, id: inviteId } = await registry.createInvite({ project: 'team', ttlMs: 60_000 });
    const states: RegistryState[] = [];
    client = await nodeSignalingClient({ url: registry.url, invite: token, backoff: { baseMs: 20, maxMs: 50 } });
    client.on('state', (s) => states.push(s));
    client.start();
    await expect.poll(() => client!.state.phase).toBe('connected');
    await registry.revokeInvite(inviteId);
    await expect.poll(() => client!.state.phase).toBe('rejected');
    expect(client.state).toMatchObject({ code: 'INVITE_REVOKED', message: expect.stringMatching(/revoked/) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(states.filter((s) => s.phase === 'connecting')).toHaveLength(1);
    expect(registry.stats().connections).toBe(0);
  });
});
