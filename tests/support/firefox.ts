/**
 * Debian's Firefox ESR as the second browser of the test matrix. Playwright's Firefox is a build
 * of its own (it cannot be downloaded here), so stock Firefox is driven over WebDriver BiDi by
 * puppeteer-core, which never downloads a browser. A spec can hold pages in both browsers, each
 * console in its own browser context (own storage), against one registry.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { currentPageNoise } from './page-noise';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';

export type { Browser as FirefoxBrowser, Page as FirefoxPage } from 'puppeteer-core';

/** Where Firefox is, or why it cannot be used (then a spec skips, except under CI=true: .ci/run installs it). */
export function firefoxPath(): string | undefined {
  const path = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
  return existsSync(path) ? path : undefined;
}

export const FIREFOX_MISSING = 'Firefox is not installed (apt-get install -y firefox-esr, or set FIREFOX_PATH; .ci/run installs it)';

/** Browser contexts a test may open in one Firefox: each is a user context with its own id. */
const MAX_CONTEXTS = 64;

/**
 * Firefox offers only its default-route address (none in a loopback-only namespace), and no
 * loopback candidate at all, to a page without camera or microphone permission. The permission
 * is granted through the permission manager's defaults file (one line per origin and per user
 * context, as `origin<TAB>type<TAB>1<TAB>origin[^userContextId=N]`), since the console itself
 * never asks for either.
 */
function permissionDefaults(origins: string[]): string {
  const lines: string[] = [];
  for (const origin of origins) {
    for (let id = 0; id <= MAX_CONTEXTS; id++) {
      const principal = id === 0 ? origin : `${origin}^userContextId=${id}`;
      for (const type of ['camera', 'microphone']) lines.push(`origin\t${type}\t1\t${principal}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface Firefox {
  browser: Browser;
  /** A page in a fresh browser context, at `url`. */
  openPage(url: string): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/**
 * Launches headless Firefox with a fresh profile whose pages at `origins` (the registry's, e.g.
 * http://127.0.0.1:PORT) may gather loopback ICE candidates. The origins are fixed at launch.
 *
 * `netns`: Firefox runs inside that network namespace (the NAT lab's LANs), and is treated as a
 * secure context at `origins` (plain http on a lab address; as Chromium's
 * --unsafely-treat-insecure-origin-as-secure). Firefox speaks WebDriver BiDi only over a
 * WebSocket on its namespace's loopback, so a port on this namespace's loopback is bridged to it.
 */
export async function launchFirefox(origins: string[], options: { netns?: string } = {}): Promise<Firefox> {
  const firefox = firefoxPath();
  if (!firefox) throw new Error(FIREFOX_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'wsp-firefox-'));
  const defaults = join(dir, 'permissions.txt');
  writeFileSync(defaults, permissionDefaults(origins.map((o) => new URL(o).origin)));
  let executablePath = firefox;
  let bridge: Server | undefined;
  if (options.netns) {
    bridge = await bridgeIntoNamespace(options.netns);
    executablePath = join(dir, 'firefox-in-netns');
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${options.netns} ${firefox} "$@"\n`);
    chmodSync(executablePath, 0o755);
  }
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    ...(bridge ? { debuggingPort: (bridge.address() as AddressInfo).port } : {}),
    extraPrefsFirefox: {
      'media.peerconnection.ice.loopback': true,
      'permissions.manager.defaultsUrl': pathToFileURL(defaults).href,
      ...(options.netns ? { 'dom.securecontext.allowlist': origins.map((o) => new URL(o).hostname).join(',') } : {}),
    },
  });
  return {
    browser,
    async openPage(url) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      // Firefox reports CSP violations as page errors: with console errors, they fail the
      // browser test that did not declare them (page-noise.ts), as Chromium's do.
      const noise = currentPageNoise();
      page.on('pageerror', (error) => {
        const text = error instanceof Error ? error.message : String(error);
        if (noise) noise.record({ kind: 'uncaught error', text, where: `Firefox ${page.url()}` });
        else console.error(`[firefox page error] ${text}`);
      });
      page.on('console', (message) => {
        if (message.type() === 'error') noise?.record({ kind: 'console error', text: message.text(), where: `Firefox ${page.url()}` });
      });
      await page.goto(url);
      // Without the grant links could only fall back to the relay: say so now, not as a timeout.
      const camera = await page.evaluate(async () => (await navigator.permissions.query({ name: 'camera' as PermissionName })).state);
      if (camera !== 'granted') throw new Error(`Firefox did not grant camera permission to ${new URL(url).origin} in this browser context (${camera}): it would gather no loopback ICE candidates; launchFirefox() must be given this origin`);
      return { context, page };
    },
    async close() {
      await browser.close();
      bridge?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Listens on a free port of this namespace's loopback and carries each connection to the same
 * port on `netns`'s loopback (a `node` inside the namespace pipes it), where Firefox will listen.
 */
async function bridgeIntoNamespace(netns: string): Promise<Server> {
  const inside = "const s=require('net').connect(+process.argv[1],'127.0.0.1');process.stdin.pipe(s).pipe(process.stdout);s.on('error',()=>process.exit(1));s.on('close',()=>process.exit(0))";
  const server = createServer((socket) => {
    const port = (server.address() as AddressInfo).port;
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', inside, String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
    socket.pipe(child.stdin);
    child.stdout.pipe(socket);
    socket.on('error', () => child.kill());
    socket.on('close', () => child.kill());
    child.on('exit', () => socket.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}
