/**
 * The Electron glue (src-main/index.ts) wired to a fake `electron` module, so that what the
 * desktop app does at start-up is checked here too, where no Electron binary can run: every IPC
 * channel is registered and checks its sender, the window is locked down, navigation and new
 * windows are refused, permissions are denied but local network access for the app's page, and the
 * embedded registry starts by default.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPC_ARGS } from '../../../src-shared/ipc';

type Handler = (...args: unknown[]) => unknown;
const fake = vi.hoisted(() => {
  const appHandlers = new Map<string, Handler[]>();
  const state = {
    userData: '',
    ipc: new Map<string, Handler>(),
    windows: [] as Array<{ options: { webPreferences: Record<string, unknown> }; url?: string }>,
    permissionRequest: undefined as Handler | undefined,
    permissionCheck: undefined as Handler | undefined,
    appHandlers,
    ready: Promise.resolve(),
    privileged: undefined as unknown,
    protocols: new Map<string, Handler>(),
    notifications: [] as Array<{ title: string; body: string }>,
  };
  class Notification {
    static isSupported() {
      return true;
    }
    constructor(readonly options: { title: string; body: string }) {}
    show() {
      state.notifications.push(this.options);
    }
  }
  class BrowserWindow {
    url?: string;
    constructor(readonly options: { webPreferences: Record<string, unknown> }) {
      state.windows.push(this);
    }
    once() {}
    show() {}
    async loadURL(url: string) {
      this.url = url;
    }
  }
  return {
    state,
    module: {
      app: {
        isPackaged: false,
        setPath: (_name: string, path: string) => (state.userData = path),
        getPath: () => state.userData,
        whenReady: () => state.ready,
        on: (event: string, handler: Handler) => appHandlers.set(event, [...(appHandlers.get(event) ?? []), handler]),
        exit: (code: number) => {
          throw new Error(`app.exit(${code})`);
        },
        quit: () => {},
      },
      BrowserWindow,
      Notification,
      ipcMain: { handle: (channel: string, handler: Handler) => state.ipc.set(channel, handler) },
      safeStorage: { isEncryptionAvailable: () => false },
      session: {
        defaultSession: {
          setPermissionRequestHandler: (h: Handler) => (state.permissionRequest = h),
          setPermissionCheckHandler: (h: Handler) => (state.permissionCheck = h),
        },
      },
      shell: { openExternal: vi.fn(async () => {}) },
      protocol: {
        registerSchemesAsPrivileged: (schemes: unknown) => (state.privileged = schemes),
        handle: (scheme: string, handler: Handler) => state.protocols.set(scheme, handler),
      },
    },
  };
});
vi.mock('electron', () => fake.module);

const rendererUrl = () => fake.state.windows[0]!.url!;
const call = (channel: string, senderUrl: string, ...args: unknown[]) =>
  fake.state.ipc.get(channel)!({ senderFrame: { url: senderUrl } }, ...args) as Promise<{ ok: boolean; value?: never; error?: { code: string } }>;

beforeAll(async () => {
  process.env.WSP_USER_DATA = mkdtempSync(join(tmpdir(), 'wsp-glue-'));
  process.env.WSP_REGISTRY_PORT = '0';
  process.env.WSP_LOG_LEVEL = 'silent';
  await import('../../../src-main/index');
  await vi.waitFor(() => expect(fake.state.windows[0]?.url).toBeDefined());
});

afterAll(async () => {
  await call('registry:stop', rendererUrl());
});

describe('desktop app start-up (Electron glue)', () => {
  it('registers one handler per IPC channel of the contract', () => {
    expect([...fake.state.ipc.keys()].sort()).toEqual(Object.keys(IPC_ARGS).sort());
  });

  it('creates a locked-down window showing the app’s own page', () => {
    const prefs = fake.state.windows[0]!.options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false });
    expect(String(prefs.preload)).toMatch(/preload[/\\]index\.js$/);
    expect(rendererUrl()).toBe('app://console/index.html');
    expect(fake.state.privileged).toEqual([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  });

  it('answers the app’s page and refuses any other sender', async () => {
    const ok = await call('identity:get', rendererUrl());
    expect(ok.ok).toBe(true);
    const refused = await call('identity:get', 'https://evil.example/');
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_SENDER' } });
  });

  it('starts the embedded registry by default, with the identity kept in the profile folder', async () => {
    const status = await call('registry:status', rendererUrl());
    expect(status).toMatchObject({ ok: true, value: { running: true } });
    const { value } = (await call('registry:status', rendererUrl())) as unknown as { value: { url: string } };
    expect(value.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  });

  it('serves the app from app://console with a CSP that allows only the configured registries', async () => {
    const handler = fake.state.protocols.get('app')!;
    const response = (await handler({ url: 'app://console/no-such-file.js' })) as Response;
    expect(response.status).toBe(404);
    const escape = (await handler({ url: 'app://console/..%2F..%2Fpackage.json' })) as Response;
    expect(escape.status).toBe(404);
    const status = ((await call('registry:status', rendererUrl())) as unknown as { value: { url: string } }).value;
    const { registryOrigin, desktopCsp } = await import('../../../src-main/security');
    const csp = desktopCsp([registryOrigin(status.url)!]);
    expect(csp).toContain(`connect-src 'self' ${registryOrigin(status.url)}`);
    expect(csp).not.toMatch(/connect-src[^;]*(ws:|wss:)(;|$| )/); // no bare scheme wildcard
  });

  it('shows a system notification for the app’s page only, and only a short plain title and body', async () => {
    expect(await call('notify:show', rendererUrl(), { title: 'Task for you', body: 'Bob #k3xq: “@Ada review the notes”' })).toMatchObject({ ok: true });
    expect(fake.state.notifications).toEqual([{ title: 'Task for you', body: 'Bob #k3xq: “@Ada review the notes”' }]);
    expect(await call('notify:show', 'https://evil.example/', { title: 'x', body: 'y' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_SENDER' } });
    expect(await call('notify:show', rendererUrl(), { title: 'x'.repeat(121), body: '' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await call('notify:show', rendererUrl(), { title: 'x', body: 'y', icon: 'file:///etc/passwd' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(fake.state.notifications).toHaveLength(1);
  });

  it('grants the app page local network access to registries, and nothing else to anyone (data channels need no camera or microphone)', () => {
    const asked = (permission: string, requestingUrl: string) => {
      const callback = vi.fn();
      fake.state.permissionRequest!({}, permission, callback, { requestingUrl });
      return callback.mock.calls[0]?.[0];
    };
    expect(asked('media', 'app://console/index.html')).toBe(false);
    expect(asked('notifications', 'app://console/index.html')).toBe(false);
    expect(asked('local-network-access', 'app://console/index.html')).toBe(true);
    expect(asked('loopback-network', 'app://console/index.html')).toBe(true);
    expect(asked('local-network-access', 'https://evil.example/')).toBe(false);
    expect(asked('local-network-access', 'app://console.evil.example/')).toBe(false);
    expect(fake.state.permissionCheck!({}, 'media', 'app://console')).toBe(false);
    expect(fake.state.permissionCheck!({}, 'local-network-access', 'app://console')).toBe(true);
    expect(fake.state.permissionCheck!({}, 'local-network-access', 'http://localhost:7420')).toBe(false);
  });

  it('refuses navigation away from the app and opens no new windows', () => {
    const contentsHandlers = new Map<string, Handler>();
    let openHandler: Handler | undefined;
    const contents = {
      on: (event: string, handler: Handler) => contentsHandlers.set(event, handler),
      setWindowOpenHandler: (handler: Handler) => (openHandler = handler),
    };
    for (const handler of fake.state.appHandlers.get('web-contents-created') ?? []) handler({}, contents);

    const navigate = (url: string) => {
      const event = { preventDefault: vi.fn() };
      contentsHandlers.get('will-navigate')!(event, url);
      return event.preventDefault.mock.calls.length === 0;
    };
    expect(navigate('https://evil.example/')).toBe(false);
    expect(navigate('file:///etc/passwd')).toBe(false);
    expect(navigate(rendererUrl() + '#peers')).toBe(true);

    expect(openHandler!({ url: 'https://docs.example/' })).toEqual({ action: 'deny' });
    expect(fake.module.shell.openExternal).toHaveBeenCalledWith('https://docs.example/');
    expect(openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(fake.module.shell.openExternal).toHaveBeenCalledTimes(1);

    const attach = { preventDefault: vi.fn() };
    contentsHandlers.get('will-attach-webview')!(attach);
    expect(attach.preventDefault).toHaveBeenCalled();
  });
});
