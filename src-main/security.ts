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
    return actual.origin === expected.origin;
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
