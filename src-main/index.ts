/**
 * Electron glue: the only main-process file that imports `electron`. It wires the Node-only
 * modules (stores, embedded registry, IPC dispatcher, security rules) to Electron's APIs.
 */
import { app, BrowserWindow, ipcMain, Notification, protocol, safeStorage, session, shell } from 'electron';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { userInfo } from 'node:os';
import pino from 'pino';
import { IPC_ARGS, type IpcChannel } from '../src-shared/ipc';
import { createMainServices } from './main-services';
import { APP_ORIGIN, APP_SCHEME, appFilePath, desktopPageCsp, isNavigationAllowed, isPermissionGranted, secureWebPreferences } from './security';
import { plainFileCodec, type SecretCodec } from './secret-codec';

const logger = pino({ name: 'wsp-console', level: process.env.WSP_LOG_LEVEL ?? 'info' });

// Tests and several consoles on one machine use separate profiles: WSP_USER_DATA=/some/dir.
if (process.env.WSP_USER_DATA) app.setPath('userData', process.env.WSP_USER_DATA);

function secretCodec(): SecretCodec {
  if (!safeStorage.isEncryptionAvailable()) return plainFileCodec;
  return {
    description: 'OS keychain (Electron safeStorage)',
    encrypted: true,
    seal: (plain) => safeStorage.encryptString(plain).toString('base64'),
    open: (sealed) => safeStorage.decryptString(Buffer.from(sealed, 'base64')),
  };
}

// The renderer is served from app://console/ (privileged like https), not file://.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

const RENDERER_DIR = join(__dirname, '../renderer');
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

function rendererUrl(): string {
  const devServer = process.env.ELECTRON_RENDERER_URL;
  if (!app.isPackaged && devServer) return devServer;
  return `${APP_ORIGIN}/index.html`;
}

async function start(): Promise<void> {
  const url = rendererUrl();
  // In development the renderer comes from the dev server (http://localhost:…), a page origin the
  // embedded registry would otherwise refuse on its WebSocket.
  const devOrigin = url.startsWith('http') ? new URL(url).origin : undefined;
  const { settings, registry, dispatcherFor } = await createMainServices({
    dataDir: app.getPath('userData'),
    codec: secretCodec(),
    username: userInfo().username,
    rendererDir: RENDERER_DIR,
    logger,
    ...(process.env.WSP_REGISTRY_PORT ? { portOverride: Number(process.env.WSP_REGISTRY_PORT) } : {}),
    ...(devOrigin ? { rendererOrigin: devOrigin } : {}),
    // Title and body were validated by the dispatcher (sender, shape, length); shown as plain text.
    notify: ({ title, body }) => {
      if (Notification.isSupported()) new Notification({ title, body }).show();
    },
  });

  // Each load of the page gets a CSP naming exactly the registries configured now; the renderer
  // reloads after the user joins a registry at a new address.
  protocol.handle(APP_SCHEME, async (request) => {
    const path = appFilePath(RENDERER_DIR, request.url);
    if (!path) return new Response('not found', { status: 404 });
    try {
      const body = await readFile(path);
      return new Response(body, {
        headers: { 'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream', 'content-security-policy': desktopPageCsp(registry.status().url, settings.get().invite) },
      });
    } catch {
      return new Response('not found', { status: 404 });
    }
  });

  const dispatch = dispatcherFor(url);
  for (const channel of Object.keys(IPC_ARGS) as IpcChannel[]) {
    ipcMain.handle(channel, (event, ...args: unknown[]) => dispatch(channel, event.senderFrame?.url, args));
  }

  // Local network access to registries, for the app's page only; nothing else (security.ts).
  session.defaultSession.setPermissionRequestHandler((_wc, permission, callback, details) => callback(isPermissionGranted(permission, details.requestingUrl)));
  session.defaultSession.setPermissionCheckHandler((_wc, permission, requestingOrigin) => isPermissionGranted(permission, requestingOrigin));

  const window = new BrowserWindow({
    width: 1280,
    height: 800,
    title: 'WSP Console',
    show: false,
    webPreferences: secureWebPreferences(join(__dirname, '../preload/index.js')),
  });
  window.once('ready-to-show', () => window.show());
  await window.loadURL(url);

  app.on('before-quit', () => void registry.stop());
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event, target) => {
    if (!isNavigationAllowed(target, rendererUrl())) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    // Links to the web open in the user's browser, never inside the app.
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
});

app.whenReady().then(start).catch((error: Error) => {
  logger.fatal({ err: error.message }, 'console failed to start');
  app.exit(1);
});

app.on('window-all-closed', () => app.quit());
