/**
 * The desktop console without the Electron binary: the real main-process services
 * (src-main/main-services.ts: stores, embedded registry, sender-checked IPC dispatcher) run in
 * this test process with their own user-data folder, and the desktop renderer runs in Chromium,
 * served by its own embedded registry. An init script installs `window.wsp` the way the preload
 * does (one method per IPC channel, answering envelopes); each call crosses a Playwright binding
 * to the real dispatcher, with the calling frame's URL as the sender, so the sender check runs.
 */
import { expect, type Browser } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createMainServices, type MainServices } from '../../src-main/main-services';
import { plainFileCodec } from '../../src-main/secret-codec';
import { desktopPageCsp } from '../../src-main/security';
import { BRIDGE_GLOBAL, IPC_METHODS, type IpcChannel } from '../../src-shared/ipc-channels';
import { WebConsole, WEB_ROOT } from './web-console';
import { watchPageNoise } from './page-noise';

const BINDING = '__wspTestIpc';

/** Byte arrays cross the binding as `{ $u8: base64 }` (the binding carries JSON-like values only). */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $u8: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value;
}

export function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === 'object') {
    const u8 = (value as { $u8?: unknown }).$u8;
    if (typeof u8 === 'string' && Object.keys(value).length === 1) return new Uint8Array(Buffer.from(u8, 'base64'));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]));
  }
  return value;
}

/** Runs in the page before its scripts, like the preload: the same shape, nothing more. */
function installBridge({ methods, global, binding }: { methods: Record<string, string>; global: string; binding: string }): void {
  const encode = (v: unknown): unknown => {
    if (v instanceof Uint8Array) {
      let s = '';
      for (const b of v) s += String.fromCharCode(b);
      return { $u8: btoa(s) };
    }
    if (Array.isArray(v)) return v.map(encode);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
    return v;
  };
  const decode = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === 'object') {
      const u8 = (v as { $u8?: unknown }).$u8;
      if (typeof u8 === 'string' && Object.keys(v).length === 1) return Uint8Array.from(atob(u8), (c) => c.charCodeAt(0));
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
    }
    return v;
  };
  const call = (globalThis as unknown as Record<string, (channel: string, args: unknown) => Promise<unknown>>)[binding]!;
  const bridge = Object.fromEntries(
    Object.entries(methods).map(([channel, method]) => [method, async (...args: unknown[]) => decode(await call(channel, encode(args)))]),
  );
  Object.defineProperty(globalThis, global, { value: Object.freeze(bridge), enumerable: false, writable: false });
}

export class DesktopConsole extends WebConsole {
  /** The system notifications main was asked to show (after its sender and argument checks), in order. */
  systemNotifications: Array<{ title: string; body: string }> = [];
  private services!: MainServices;
  private dataDir!: string;

  /** Starts the main-process services (embedded registry on a free port) and opens the desktop renderer. */
  static async launch(browser: Browser, options: { username?: string } = {}): Promise<DesktopConsole> {
    const dataDir = mkdtempSync(join(tmpdir(), 'wsp-desktop-'));
    const shown: Array<{ title: string; body: string }> = [];
    const services = await createMainServices({
      dataDir,
      codec: plainFileCodec,
      username: options.username ?? 'desktop',
      rendererDir: WEB_ROOT,
      logger: pino({ level: 'silent' }),
      portOverride: 0,
      notify: (notice) => shown.push(notice),
    });
    const status = services.registry.status();
    if (!status.running || !status.httpUrl) throw new Error(`the embedded registry did not start: ${status.error}`);
    const rendererUrl = `${status.httpUrl}/`;
    const dispatch = services.dispatcherFor(rendererUrl);

    // Camera/microphone only so that Chromium gathers ICE candidates inside the loopback-only
    // test namespace (see WebConsole.open); the renderer asks for neither.
    // Local network access as the app grants it to its page (security.ts): a registry at another
    // loopback port is a local-network request for Chromium, refused without it.
    const context = await browser.newContext({ permissions: ['camera', 'microphone', 'local-network-access'] });
    await watchPageNoise(context);
    await context.exposeBinding(BINDING, async (source, channel: IpcChannel, args: unknown) =>
      toWire(await dispatch(channel, source.frame.url(), fromWire(args) as unknown[])),
    );
    await context.addInitScript(installBridge, { methods: IPC_METHODS, global: BRIDGE_GLOBAL, binding: BINDING });
    // As the app's protocol handler does (src-main/index.ts): each load of the page gets the CSP
    // naming the registries configured now, so a console that joined another registry reaches it.
    await context.route(`${status.httpUrl}/**`, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': desktopPageCsp(services.registry.status().url, services.settings.get().invite) } });
    });
    const page = await context.newPage();
    await page.goto(rendererUrl);
    const desktop = new DesktopConsole(context, page);
    desktop.services = services;
    desktop.systemNotifications = shown;
    desktop.dataDir = dataDir;
    return desktop;
  }

  get registryHttpUrl(): string {
    return this.services.registry.status().httpUrl!;
  }

  /** Creates an invite through the real main process, bypassing the GUI (for invites the GUI cannot make). */
  createInviteDirect(ttlMs: number): Promise<{ link: string }> {
    return this.services.registry.createInvite({ ttlMs });
  }

  /** "Start a project" on the first-run screen: the renderer saves its own registry's invite and reloads, then rejoins. */
  async useOwnRegistry(): Promise<void> {
    await this.page.getByRole('button', { name: 'Start a project' }).click();
    await expect(this.status()).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  }

  /** "Create invite" in the registry panel; returns the link shown to send to a teammate. */
  async createInvite(): Promise<string> {
    if (!(await this.page.getByRole('dialog', { name: 'This console’s registry' }).isVisible())) await this.openDialog('Invite people');
    const field = this.page.getByLabel('Invite link (send it to a teammate)');
    // The field shows the last invite made: wait for the new one, not the one before it.
    const before = (await field.count()) ? await field.inputValue() : '';
    await this.page.getByRole('button', { name: 'Create invite' }).click();
    await expect(field).toHaveValue(/#invite=/);
    await expect(field).not.toHaveValue(before);
    return field.inputValue();
  }

  override async close(): Promise<void> {
    await super.close();
    await this.services.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
