/**
 * A registry socket that goes dead without a close (a TCP proxy that stops forwarding, as a NAT
 * that forgets a mapping or a laptop asleep would): the console notices within heartbeat_ms,
 * says so, and reconnects. A real registry and the console's SignalingClient over `ws`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../../src-main/registry/registry';
import { SignalingClient, type RegistryState } from '../../../src-renderer/engine/signaling-client';
import { startTapProxy, type TapProxy } from '../../support/tap-proxy';
import { nodeSignalingClient } from './node-signaling-client';

let registry: RegistryHandle | undefined;
let proxy: TapProxy | undefined;
let client: SignalingClient | undefined;
afterEach(async () => {
  client?.stop();
  await proxy?.close();
  await registry?.close();
});

describe('a half-open registry socket', () => {
  it('is noticed within heartbeat_ms of the last frame, shown as reconnecting, and replaced', async () => {
    const heartbeatMs = 1000;
    registry = await createRegistry({ logger: pino({ level: 'silent' }), limits: { heartbeatMs } });
    proxy = await startTapProxy(registry.port);
    const { token } = await registry.createInvite({ project: 'team', ttlMs: 60_000 });
    const states: RegistryState[] = [];
    client = await nodeSignalingClient({ url: `ws://127.0.0.1:${proxy.port}/ws`, invite: token, backoff: { baseMs: 100, maxMs: 400 } });
    client.on('state', (s) => states.push(s));
    client.start();
    await expect.poll(() => client!.state.phase).toBe('connected');
    // Quiet, but alive: pings are answered, so it stays connected over several heartbeats.
    await new Promise((done) => setTimeout(done, 2.5 * heartbeatMs));
    expect(states.map((s) => s.phase)).toEqual(['connecting', 'connected']);

    proxy.freeze();
    const frozenAt = Date.now();
    await expect.poll(() => client!.state.phase, { timeout: 5000, interval: 20 }).toBe('reconnecting');
    const noticedAfter = Date.now() - frozenAt;
    // At most heartbeat_ms after the last frame heard, which came at most heartbeat_ms / 2 before the freeze.
    expect(noticedAfter).toBeLessThanOrEqual(heartbeatMs + 300);
    expect((client.state as Extract<RegistryState, { phase: 'reconnecting' }>).reason).toMatch(/no answer from the registry for 1 s/);
    await expect.poll(() => client!.state.phase, { timeout: 5000 }).toBe('connected');
    expect(registry.stats().consoles).toBe(1); // the new connection replaced the frozen one
  });
});
