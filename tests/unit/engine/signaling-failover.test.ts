/**
 * The console's registry connection fails over between instances of one registry, and tries again
 * at once when asked ("Retry now": after an outage the backoff may still wait half a minute; found
 * by a new-user pass, consoles said "retry in 17 s" well after the registry was back).
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../../src-main/registry/registry';
import { SignalingClient, type RegistryState } from '../../../src-renderer/engine/signaling-client';
import { nodeSignalingClient } from './node-signaling-client';

let registries: RegistryHandle[] = [];
let client: SignalingClient | undefined;
afterEach(async () => {
  client?.stop();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
});

describe('registry failover', () => {
  it('a console whose instance goes away reconnects to the next instance it knows', async () => {
    const inviteSecret = crypto.getRandomValues(new Uint8Array(32));
    const [one, two] = [await createRegistry({ inviteSecret, logger: pino({ level: 'silent' }) }), await createRegistry({ inviteSecret, logger: pino({ level: 'silent' }) })];
    registries.push(one, two);
    const { token } = await one.createInvite({ project: 'team', ttlMs: 60_000 });
    const states: RegistryState['phase'][] = [];
    client = await nodeSignalingClient({ url: [one.url, two.url], invite: token, backoff: { baseMs: 50, maxMs: 200 } });
    client.on('state', (s) => states.push(s.phase));
    client.start();
    await expect.poll(() => client!.state.phase).toBe('connected');
    expect(client.url).toBe(one.url);
    expect(one.stats().consoles).toBe(1);

    await one.close();
    await expect.poll(() => client!.state.phase).not.toBe('connected');
    await expect.poll(() => client!.state.phase, { timeout: 5000 }).toBe('connected');
    expect(client.url).toBe(two.url);
    expect(two.stats().consoles).toBe(1);
    expect(states).toContain('reconnecting');
  });
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
