import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EmbeddedRegistry } from '../../../src-main/embedded-registry';
import { IdentityStore } from '../../../src-main/identity-store';
import { createIpcDispatcher, createIpcHandlers } from '../../../src-main/ipc-handlers';
import { plainFileCodec } from '../../../src-main/secret-codec';
import { TrustStore } from '../../../src-main/trust-store';
import { createSenderCheck, isNavigationAllowed, secureWebPreferences } from '../../../src-main/security';
import { SettingsStore } from '../../../src-main/settings-store';
import { ed25519Verify, signedMessage } from '../../../src-shared/identity';
import { parseInvite } from '../../../src-shared/invite';
import { earlyHelloPayload } from '../../../src-shared/protocol/early-hello';
import type { EmbeddedRegistryStatus, IdentityInfo, InviteSummary, IpcEnvelope, Settings } from '../../../src-shared/ipc';
import { TestClient } from '../../support/registry-client';

const RENDERER = 'file:///app/out/renderer/index.html';
const logger = pino({ level: 'silent' });

let dirs: string[] = [];
let registries: EmbeddedRegistry[] = [];
let servers: Server[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-ipc-'));
  dirs.push(dir);
  return dir;
}

async function setup(port: () => number = () => 0) {
  const dir = tempDir();
  const identity = await IdentityStore.open(dir, plainFileCodec);
  const settings = new SettingsStore(dir, 'ada');
  const registry = new EmbeddedRegistry({
    port,
    defaultProject: () => settings.get().embeddedRegistry.project,
    dataDir: join(dir, 'registry'),
    logger,
  });
  registries.push(registry);
  const trust = new TrustStore(dir);
  const dispatch = createIpcDispatcher(createIpcHandlers({ identity, settings, registry, trust }), createSenderCheck(RENDERER), logger);
  return { dispatch, identity, settings, registry, trust, dir };
}

function value<T>(envelope: IpcEnvelope<unknown>): T {
  expect(envelope).toMatchObject({ ok: true });
  return (envelope as { ok: true; value: T }).value;
}

function failure(envelope: IpcEnvelope<unknown>, code: string): string {
  expect(envelope).toMatchObject({ ok: false, error: { code } });
  const { error } = envelope as { ok: false; error: { code: string; message: string } };
  expect(Object.keys(error).sort()).toEqual(['code', 'message']); // no stack, no cause
  expect(error.message).not.toMatch(/\n\s+at /);
  return error.message;
}

/** A TCP port on 127.0.0.1 that is taken for the rest of the test. */
async function occupiedPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

afterEach(async () => {
  await Promise.all(registries.map((r) => r.stop()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  registries = [];
  servers = [];
  dirs = [];
});

describe('IPC dispatcher: senders', () => {
  it('answers the app’s own renderer with { ok: true, value }', async () => {
    const { dispatch, identity, settings } = await setup();
    const info = value<IdentityInfo>(await dispatch('identity:get', RENDERER, []));
    expect(info.peerId).toBe(identity.info().peerId);
    expect(value<Settings>(await dispatch('settings:get', RENDERER, []))).toEqual(settings.get());
    // The renderer's own page with a route in the hash is still the renderer.
    expect((await dispatch('settings:get', `${RENDERER}#/settings`, [])).ok).toBe(true);
  });

  it.each([
    ['a web page', 'https://evil.example/'],
    ['another local file', 'file:///tmp/other.html'],
    ['another file in the renderer folder', 'file:///app/out/renderer/other.html'],
    ['an unknown frame', undefined],
    ['an unparsable URL', 'not a url'],
  ])('refuses %s with FORBIDDEN_SENDER and does not run the handler', async (_name, sender) => {
    const { dispatch, settings, registry } = await setup();
    const before = settings.get();

    failure(await dispatch('settings:update', sender, [{ displayName: 'pwned' }]), 'FORBIDDEN_SENDER');
    expect(settings.get()).toEqual(before);

    failure(await dispatch('registry:start', sender, []), 'FORBIDDEN_SENDER');
    expect(registry.status().running).toBe(false);

    failure(await dispatch('identity:sign-challenge', sender, [new Uint8Array(32)]), 'FORBIDDEN_SENDER');
  });
});

describe('IPC dispatcher: arguments and errors', () => {
  it('signs a 32-byte nonce for the renderer', async () => {
    const { dispatch, identity } = await setup();
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const signature = value<Uint8Array>(await dispatch('identity:sign-challenge', RENDERER, [nonce]));
    expect(await ed25519Verify(identity.info().signingPublicKey, signedMessage('registryAuth', nonce), signature)).toBe(true);
  });

  it('signs an early hello of now for the renderer, and refuses one of another size or another time', async () => {
    const { dispatch, identity } = await setup();
    const payload = earlyHelloPayload(Date.now(), crypto.getRandomValues(new Uint8Array(16)));
    const signature = value<Uint8Array>(await dispatch('identity:sign-early-hello', RENDERER, [payload]));
    expect(await ed25519Verify(identity.info().signingPublicKey, signedMessage('registryHello', payload), signature)).toBe(true);
    expect(failure(await dispatch('identity:sign-early-hello', RENDERER, [new Uint8Array(32)]), 'INVALID_ARGUMENT')).toContain('24 bytes');
    expect(failure(await dispatch('identity:sign-early-hello', RENDERER, [earlyHelloPayload(Date.now() + 3_600_000, new Uint8Array(16))]), 'FAILED')).toContain('only for the current time');
  });

  it('refuses a 31-byte nonce with INVALID_ARGUMENT naming the problem', async () => {
    const { dispatch } = await setup();
    const message = failure(await dispatch('identity:sign-challenge', RENDERER, [new Uint8Array(31)]), 'INVALID_ARGUMENT');
    expect(message).toContain('identity:sign-challenge');
    expect(message).toContain('32 bytes');
  });

  it('refuses a nonce sent as a plain array instead of bytes', async () => {
    const { dispatch } = await setup();
    const message = failure(await dispatch('identity:sign-challenge', RENDERER, [Array.from(new Uint8Array(32))]), 'INVALID_ARGUMENT');
    expect(message).toContain('binary');
  });

  it('refuses a bad settings value in the Settings panel’s words, and leaves settings unchanged', async () => {
    const { dispatch, settings } = await setup();
    const before = settings.get();
    const refused = async (patch: unknown) => failure(await dispatch('settings:update', RENDERER, [patch]), 'INVALID_ARGUMENT');
    expect(await refused({ embeddedRegistry: { port: 70000 } })).toBe('Embedded registry: a port of 0–65535');
    expect(await refused({ displayName: ' ' })).toBe('Display name: a name is needed');
    expect(await refused({ links: { iceServers: [{ urls: ['stun:stun.example.org'] }, { urls: ['turn:turn.example.org:3478'] }] } })).toBe(
      'STUN/TURN server 2: a TURN server needs a user name and a password: turn:HOST:PORT USER PASSWORD',
    );
    expect(await refused({ links: { iceServers: [{ urls: ['notaurl'] }] } })).toBe('STUN/TURN server 1: “notaurl” does not start with stun:, stuns:, turn: or turns:');
    expect(settings.get()).toEqual(before);
  });

  it('applies a valid settings patch and returns the new settings', async () => {
    const { dispatch, settings } = await setup();
    const next = value<Settings>(await dispatch('settings:update', RENDERER, [{ displayName: 'Ada', embeddedRegistry: { port: 9000 } }]));
    expect(next).toMatchObject({ displayName: 'Ada', embeddedRegistry: { port: 9000 } });
    expect(settings.get()).toEqual(next);
  });

  it('refuses extra or missing arguments', async () => {
    const { dispatch, settings } = await setup();
    const before = settings.get();
    failure(await dispatch('identity:get', RENDERER, ['extra']), 'INVALID_ARGUMENT');
    failure(await dispatch('identity:sign-challenge', RENDERER, [new Uint8Array(32), new Uint8Array(32)]), 'INVALID_ARGUMENT');
    failure(await dispatch('identity:sign-challenge', RENDERER, []), 'INVALID_ARGUMENT');
    failure(await dispatch('settings:update', RENDERER, [{ displayName: 'Bob' }, { displayName: 'Eve' }]), 'INVALID_ARGUMENT');
    expect(settings.get()).toEqual(before);
  });

  it('reports a failing handler as FAILED with its message and no stack', async () => {
    const { dispatch } = await setup();
    const message = failure(await dispatch('registry:create-invite', RENDERER, [{ ttlMs: 3_600_000 }]), 'FAILED');
    expect(message).toBe('the embedded registry is not running');
  });

  it('refuses an invite request with too short a lifetime before reaching the registry', async () => {
    const { dispatch } = await setup();
    value(await dispatch('registry:start', RENDERER, []));
    const message = failure(await dispatch('registry:create-invite', RENDERER, [{ ttlMs: 1000 }]), 'INVALID_ARGUMENT');
    expect(message).toContain('ttlMs');
  });
});

describe('IPC dispatcher: embedded registry', () => {
  it('starts, issues invites that parse, and stops', async () => {
    const { dispatch, settings } = await setup();
    expect(value<EmbeddedRegistryStatus>(await dispatch('registry:status', RENDERER, []))).toMatchObject({ available: true, running: false });

    const started = value<EmbeddedRegistryStatus>(await dispatch('registry:start', RENDERER, []));
    expect(started).toMatchObject({ available: true, running: true, consoles: 0 });
    expect(started.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(started.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.error).toBeUndefined();
    // Starting again is harmless and keeps the same registry.
    expect(value<EmbeddedRegistryStatus>(await dispatch('registry:start', RENDERER, [])).url).toBe(started.url);

    const before = Date.now();
    const { link } = value<{ link: string }>(await dispatch('registry:create-invite', RENDERER, [{ ttlMs: 3_600_000, maxUses: 3 }]));
    const invite = parseInvite(link);
    expect(invite.registryUrl).toBe(started.url);
    expect(invite.claims.project).toBe(settings.get().embeddedRegistry.project);
    expect(invite.claims.maxUses).toBe(3);
    expect(invite.claims.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
    expect(invite.claims.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1000);

    const other = parseInvite(value<{ link: string }>(await dispatch('registry:create-invite', RENDERER, [{ project: 'alpha', ttlMs: 60_000 }])).link);
    expect(other.claims.project).toBe('alpha');

    const stopped = value<EmbeddedRegistryStatus>(await dispatch('registry:stop', RENDERER, []));
    expect(stopped).toMatchObject({ available: true, running: false });
    expect(stopped.url).toBeUndefined();
    failure(await dispatch('registry:create-invite', RENDERER, [{ ttlMs: 3_600_000 }]), 'FAILED');
  });

  it('lists the invites it issued and revokes one by id: the registry refuses it and disconnects the console it admitted', async () => {
    const { dispatch } = await setup();
    expect(value<InviteSummary[]>(await dispatch('registry:list-invites', RENDERER, []))).toEqual([]);
    const started = value<EmbeddedRegistryStatus>(await dispatch('registry:start', RENDERER, []));
    const leaked = parseInvite(value<{ link: string }>(await dispatch('registry:create-invite', RENDERER, [{ ttlMs: 3_600_000, maxUses: 2 }])).link);
    const kept = parseInvite(value<{ link: string }>(await dispatch('registry:create-invite', RENDERER, [{ ttlMs: 3_600_000 }])).link);
    const idOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    const ada = await TestClient.join(started.url!, leaked.token, { name: 'Ada' });
    const bob = await TestClient.join(started.url!, kept.token, { name: 'Bob' });
    try {
      const listed = value<InviteSummary[]>(await dispatch('registry:list-invites', RENDERER, []));
      expect(listed.map((i) => [i.id, i.uses, i.maxUses, i.revoked]).sort()).toEqual(
        [
          [idOf(leaked.token), 1, 2, false],
          [idOf(kept.token), 0, undefined, false],
        ].sort(),
      );
      // Ids and claims cross to the renderer, never a token.
      expect(JSON.stringify(listed)).not.toContain(leaked.token.split('.')[2]);

      const after = value<InviteSummary[]>(await dispatch('registry:revoke-invite', RENDERER, [idOf(leaked.token)]));
      expect(after.find((i) => i.id === idOf(leaked.token))?.revoked).toBe(true);
      expect(after.find((i) => i.id === idOf(kept.token))?.revoked).toBe(false);
      expect(await ada.waitForClose()).toBe(4012);
      const again = await TestClient.join(started.url!, leaked.token, { name: 'Ada' });
      expect(again.errors()[0]?.code).toBe('INVITE_REVOKED');
      again.ws.terminate();
      expect(bob.closeCode).toBeUndefined();

      // Only an id crosses IPC (not a token or link), and only from the app's page.
      expect(failure(await dispatch('registry:revoke-invite', RENDERER, [leaked.token]), 'INVALID_ARGUMENT')).toMatch(/UUID/);
      failure(await dispatch('registry:revoke-invite', RENDERER, [idOf(kept.token), 'extra']), 'INVALID_ARGUMENT');
      expect(failure(await dispatch('registry:revoke-invite', RENDERER, ['0b6d1a4e-8d7c-4f3e-9a51-2f0e8c7b6a59']), 'FAILED')).toMatch(/no invite/);
      failure(await dispatch('registry:revoke-invite', 'https://evil.example/', [idOf(kept.token)]), 'FORBIDDEN_SENDER');
      expect(value<InviteSummary[]>(await dispatch('registry:list-invites', RENDERER, [])).find((i) => i.id === idOf(kept.token))?.revoked).toBe(false);
    } finally {
      ada.ws.terminate();
      bob.ws.terminate();
    }
  });

  it('reports a port already in use in the status instead of throwing, and recovers once it is free', async () => {
    let port = await occupiedPort();
    const { dispatch } = await setup(() => port);
    const envelope = await dispatch('registry:start', RENDERER, []);
    const status = value<EmbeddedRegistryStatus>(envelope);
    expect(status.running).toBe(false);
    expect(status.error).toContain(`port ${port} is in use`);
    expect(value<EmbeddedRegistryStatus>(await dispatch('registry:status', RENDERER, [])).error).toBe(status.error);

    port = 0;
    const retried = value<EmbeddedRegistryStatus>(await dispatch('registry:start', RENDERER, []));
    expect(retried.running).toBe(true);
    expect(retried.error).toBeUndefined();
  });
});

describe('window security', () => {
  it('secureWebPreferences isolates the renderer from Node', () => {
    const prefs = secureWebPreferences('/app/out/preload/index.js');
    expect(prefs).toMatchObject({
      preload: '/app/out/preload/index.js',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('isNavigationAllowed allows only the renderer page (any hash)', () => {
    expect(isNavigationAllowed(RENDERER, RENDERER)).toBe(true);
    expect(isNavigationAllowed(`${RENDERER}#/peers`, RENDERER)).toBe(true);
    expect(isNavigationAllowed(`${RENDERER}#/peers`, `${RENDERER}#/settings`)).toBe(true);
    expect(isNavigationAllowed('file:///app/out/renderer/other.html', RENDERER)).toBe(false);
    expect(isNavigationAllowed('file:///etc/passwd', RENDERER)).toBe(false);
    expect(isNavigationAllowed('https://evil.example/', RENDERER)).toBe(false);
    expect(isNavigationAllowed(`${RENDERER}?next=https://evil.example/`, RENDERER)).toBe(false);
    expect(isNavigationAllowed('not a url', RENDERER)).toBe(false);
  });

  it('createSenderCheck for a dev server accepts that origin only', () => {
    const check = createSenderCheck('http://localhost:5173');
    expect(check('http://localhost:5173/')).toBe(true);
    expect(check('http://localhost:5173/src/main.ts?x=1#/peers')).toBe(true);
    expect(check('http://localhost:5174/')).toBe(false);
    expect(check('https://localhost:5173/')).toBe(false);
    expect(check('http://127.0.0.1:5173/')).toBe(false);
    expect(check('http://localhost:5173.evil.example/')).toBe(false);
    expect(check('https://evil.example/')).toBe(false);
    expect(check('file:///app/out/renderer/index.html')).toBe(false);
    expect(check(undefined)).toBe(false);
  });

  it('createSenderCheck for the packaged renderer accepts that file only', () => {
    const check = createSenderCheck(RENDERER);
    expect(check(RENDERER)).toBe(true);
    expect(check(`${RENDERER}#/settings`)).toBe(true);
    expect(check('file:///app/out/renderer/index.html.evil')).toBe(false);
    expect(check('file:///tmp/index.html')).toBe(false);
    expect(check('file://otherhost/app/out/renderer/index.html')).toBe(false); // a UNC share on Windows
    expect(check('http://localhost:5173/app/out/renderer/index.html')).toBe(false);
    expect(check('')).toBe(false);
  });
});

describe('trust storage over IPC', () => {
  const record = { peerId: 'b'.repeat(26), displayName: 'Bob', signingKey: 'x'.repeat(43), firstSeen: 1, verified: true };

  it('pins saved through IPC survive a restart of the store', async () => {
    const { dispatch, dir } = await setup();
    expect(await dispatch('trust:save', RENDERER, [[record]])).toEqual({ ok: true, value: undefined });
    expect(new TrustStore(dir).load()).toEqual([record]);
    expect(await dispatch('trust:load', RENDERER, [])).toEqual({ ok: true, value: [record] });
  });

  it('refuses malformed records and keeps what was stored', async () => {
    const { dispatch, dir } = await setup();
    await dispatch('trust:save', RENDERER, [[record]]);
    const bad = await dispatch('trust:save', RENDERER, [[{ ...record, verified: 'yes' }]]);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(new TrustStore(dir).load()).toEqual([record]);
  });
});
