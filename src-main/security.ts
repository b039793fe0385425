import { parseInvite } from '../src-shared/invite';

/**
 * The desktop window's security settings, kept apart from Electron so tests can check them:
 * context isolation, sandbox, no Node in the renderer, no navigation, and the rule for which
 * frames may call IPC.
 */
export function secureWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    spellcheck: false,
  } as const;
}

/**
 * The app's own renderer is `file://…/out/renderer/index.html` (or the dev server's origin in
 * development). Only that exact page may call IPC: a same-origin check is not enough for
 * file://, where every local file shares the origin.
 */
export function createSenderCheck(rendererUrl: string): (frameUrl: string | undefined) => boolean {
  const expected = new URL(rendererUrl);
  return (frameUrl) => {
    if (!frameUrl) return false;
    let actual: URL;
    try {
      actual = new URL(frameUrl);
    } catch {
      return false;
    }
    if (expected.protocol === 'file:') {
      // host too: file://server/share/… is a network path (UNC) on Windows.
      return actual.protocol === 'file:' && actual.host === expected.host && actual.pathname === expected.pathname;
    }
    // protocol + host, not .origin: for custom schemes such as app:// the origin is "null".
    return actual.protocol === expected.protocol && actual.host === expected.host;
  };
}

/** Only the app's own page may load in its window (a hash change is not navigation away). */
export function isNavigationAllowed(targetUrl: string, rendererUrl: string): boolean {
  try {
    return stripHash(targetUrl) === stripHash(rendererUrl);
  } catch {
    return false;
  }
}

function stripHash(url: string): string {
  const u = new URL(url);
  u.hash = '';
  return u.toString();
}

/** The scheme the desktop renderer is served from (instead of file://, where every local file shares an origin). */
export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://console`;

/**
 * The desktop renderer's Content-Security-Policy: its own files only, and WebSocket connections to
 * exactly the registries the user configured (the embedded one and the one of the saved invite).
 */
export function desktopCsp(registryOrigins: string[]): string {
  const connect = [...new Set(registryOrigins.filter((o) => /^wss?:\/\/[^\s;'"]+$/.test(o)))];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${connect.length ? ` ${connect.join(' ')}` : ''}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/**
 * The one permission the app grants: reaching a registry on the local network or at another
 * loopback port, which Chromium's Local Network Access asks for before a page talks to a private
 * address (without it the desktop app could reach only its own embedded registry). Only the app's
 * own page gets it; which registries it may reach stays fixed by its CSP. Camera, microphone and
 * the rest are denied: data channels need none of them.
 */
const LOCAL_NETWORK_PERMISSIONS = new Set(['local-network-access', 'local-network', 'loopback-network']);
export function isPermissionGranted(permission: string, requestingUrl: string | undefined): boolean {
  return LOCAL_NETWORK_PERMISSIONS.has(permission) && (requestingUrl === APP_ORIGIN || Boolean(requestingUrl?.startsWith(`${APP_ORIGIN}/`)));
}

/** The CSP for one load of the desktop page: the embedded registry (when running) and the saved invite's registries. */
export function desktopPageCsp(embeddedRegistryUrl: string | undefined, savedInvite: string | undefined): string {
  return desktopCsp([registryOrigin(embeddedRegistryUrl), ...inviteOrigins(savedInvite)].filter((o): o is string => Boolean(o)));
}

/** The WebSocket origin (ws://host:port) of a registry URL or invite link, if it is one. */
export function registryOrigin(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    const scheme = parsed.protocol === 'https:' || parsed.protocol === 'wss:' ? 'wss:' : parsed.protocol === 'http:' || parsed.protocol === 'ws:' ? 'ws:' : undefined;
    return scheme ? `${scheme}//${parsed.host}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The WebSocket origins of every registry instance an invite link names (primary and alternates),
 * while the invite can still be used: an expired one cannot join (the registry refuses it, and so
 * does the console), so its registries are no longer let into the CSP.
 */
export function inviteOrigins(link: string | undefined, now = Date.now()): string[] {
  if (!link) return [];
  try {
    const invite = parseInvite(link);
    if (invite.claims.expiresAt <= now) return [];
    return invite.registryUrls.map((u) => registryOrigin(u)).filter((o): o is string => Boolean(o));
  } catch {
    return [];
  }
}

/** Resolves a path of the app: URL inside the renderer folder; undefined if it would escape it. */
export function appFilePath(rendererDir: string, requestUrl: string): string | undefined {
  const url = new URL(requestUrl);
  if (url.host !== 'console') return undefined;
  const relative = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
  if (relative.split('/').some((part) => part === '..' || part.includes('\\'))) return undefined;
  return `${rendererDir.replace(/\/+$/, '')}/${relative}`;
}
