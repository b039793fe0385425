/**
 * `--host ::` (issue 20): one registry answers IPv6 and IPv4 clients. Node leaves `ipv6Only` false,
 * and libuv then clears IPV6_V6ONLY on the socket itself, whatever net.ipv6.bindv6only says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRegistry } from '../../support/registry-fixture';
import { TestClient } from '../../support/registry-client';
import type { RegistryHandle } from '../../../src-main/registry/registry';

let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  clients = [];
});

describe('a registry listening on ::', () => {
  it('serves /healthz and signaling to 127.0.0.1 and to ::1, and the two consoles meet in one project', async () => {
    const registry = await startTestRegistry({ host: '::' });
    registries.push(registry);
    const { token } = await registry.createInvite({ project: 'alpha', ttlMs: 60_000 });
    for (const host of ['127.0.0.1', '[::1]']) {
      const res = await fetch(`http://${host}:${registry.port}/healthz`);
      expect(res.status).toBe(200);
    }
    const v4 = await TestClient.join(`ws://127.0.0.1:${registry.port}/ws`, token, { name: 'Four' });
    const v6 = await TestClient.join(`ws://[::1]:${registry.port}/ws`, token, { name: 'Six' });
    clients.push(v4, v6);
    expect(v6.welcome.peers.map((p) => p.display_name)).toEqual(['Four']);
    expect(registry.logs.join('')).toMatch(/"addr":"::ffff:127\.0\.0\.1".*connection opened/);
    expect(registry.logs.join('')).toMatch(/"addr":"::1".*connection opened/);
  });
});
