/**
 * "Retry now": after a registry outage the backoff may still wait half a minute (found by a
 * new-user pass: consoles said "retry in 17 s" well after the registry was back). A person who
 * knows it is back tries at once; nothing else changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../../src-main/registry/registry';
import type { SignalingClient } from '../../../src-renderer/engine/signaling-client';
import { nodeSignalingClient } from './node-signaling-client';

let registries: RegistryHandle[] = [];
let client: SignalingClient | undefined;
afterEach(async () => {
  client?.stop();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
});

describe('retryNow', () => {
  it('while reconnecting, connects now instead of after the backoff; at any other time it does nothing', async () => {
    const inviteSecret = crypto.getRandomValues(new Uint8Array(32));
    const first = await createRegistry({ inviteSecret, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
    registries.push(first);
    const port = Number(new URL(first.url).port);
    const { token } = await first.createInvite({ project: 'team', ttlMs: 60_000 });
    client = await nodeSignalingClient({ url: first.url, invite: token, backoff: { baseMs: 120_000, maxMs: 120_000 } });
    client.start();
    await expect.poll(() => client!.state.phase).toBe('connected');
    client.retryNow(); // connected: nothing to retry
    expect(client.state.phase).toBe('connected');

    await first.close();
    await expect.poll(() => client!.state.phase).toBe('reconnecting');
    const state = client.state;
    expect(state.phase === 'reconnecting' && state.retryAt - Date.now()).toBeGreaterThan(30_000);
    const again = await createRegistry({ inviteSecret, host: '127.0.0.1', port, logger: pino({ level: 'silent' }) });
    registries.push(again);
    client.retryNow();
    await expect.poll(() => client!.state.phase, { timeout: 5000 }).toBe('connected');
    expect(again.stats().consoles).toBe(1);

    client.stop();
    client.retryNow(); // stopped for good: stays stopped
    expect(client.state.phase).toBe('idle');
  });
});
