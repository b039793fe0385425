/**
 * The registry's HTTP surface against a browser that is not the user's friend (issue 16, items 6,
 * 10, 11): DNS rebinding (Host allow-list), foreign pages opening the WebSocket (Origin check),
 * sniffable answers, symbolic links out of the web root, invites without an expiry, and logs that
 * name the client without naming its secrets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { startTestRegistry } from '../../support/registry-fixture';
import { TestClient } from '../../support/registry-client';
import type { RegistryHandle, RegistryOptions } from '../../../src-main/registry/registry';

let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  clients = [];
});

async function registry(options: RegistryOptions = {}) {
  const r = await startTestRegistry(options);
  registries.push(r);
  return r;
}

/** A GET with headers a browser would send (Node's fetch does not let a test set Host). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The HTTP status a WebSocket upgrade gets (101: opened). */
function upgradeStatus(url: string, options: WebSocket.ClientOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('upgrade', (res) => {
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      res.resume();
    });
    ws.once('error', (error) => reject(error));
  });
}

describe('DNS rebinding: the registry answers to its own names only', () => {
  it('a request naming a foreign host gets 421 on every path and on the WebSocket; its own names are answered', async () => {
    const r = await registry({ publicUrl: 'https://wsp.example.org', alternateUrls: ['https://wsp-2.example.org:8443'], allowedHosts: ['registry.lan', '.corp.example'] });
    const port = new URL(r.httpUrl).port;
    for (const path of ['/healthz', '/metrics', '/', '/index.html']) {
      const refused = await get(`${r.httpUrl}${path}`, { host: `rebind.attacker.example:${port}` });
      expect(refused.status, path).toBe(421);
      expect(refused.body).not.toMatch(/consoles|wsp_registry/);
    }
    expect(await upgradeStatus(r.url, { headers: { host: `rebind.attacker.example:${port}` } })).toBe(421);
    // Tricks that still name another host.
    for (const host of [`127.0.0.1.attacker.example:${port}`, `localhost.attacker.example:${port}`, `user@127.0.0.1:${port}`, `wsp.example.org.attacker.example`, 'corp.example.attacker.example', '%31%32%37.0.0.1']) {
      expect((await get(`${r.httpUrl}/healthz`, { host })).status, host).toBe(421);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost.:${port}`, `app.localhost:${port}`, `[::1]:${port}`, `10.0.0.7:${port}`, 'wsp.example.org', 'WSP.example.org.:443', 'wsp-2.example.org:8443', 'registry.lan:7420', 'corp.example', 'build.corp.example']) {
      expect((await get(`${r.httpUrl}/healthz`, { host })).status, host).toBe(200);
    }
    const metrics = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^wsp_registry_refused_connections_total\{reason="host"\} 11$/m);
    expect(r.logs.join('')).toMatch(/"addr":"127\.0\.0\.1".*"host":"rebind\.attacker\.example:\d+".*not one of this registry’s names/);
  });

  it('the host it listens on by name is one of its names', async () => {
    const r = await registry({ host: 'localhost' });
    expect((await get(`${r.httpUrl}/healthz`, { host: 'localhost' })).status).toBe(200);
    expect((await get(`${r.httpUrl}/healthz`, { host: 'other.example' })).status).toBe(421);
  });
});

describe('the WebSocket opens to the registry’s own pages and the desktop app, not to any web page', () => {
  it('refuses an upgrade from a foreign page with 403 and logs it; its own pages, the desktop app and clients without Origin join', async () => {
    const r = await registry({ publicUrl: 'https://wsp.example.org', alternateUrls: ['https://wsp-2.example.org'], allowedOrigins: ['https://tools.example.org'] });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const self = new URL(r.httpUrl).origin;
    for (const origin of ['https://evil.example', 'null', `${self}.evil.example`, 'http://127.0.0.1:1', 'file://', 'app://evil', 'https://wsp.example.org:444']) {
      expect(await upgradeStatus(r.url, { origin }), origin).toBe(403);
    }
    expect(r.logs.join('')).toMatch(/"addr":"127\.0\.0\.1".*"origin":"https:\/\/evil\.example".*WebSocket refused: a page of a foreign origin/);

    const pages = [
      { origin: self }, // the web console this registry serves
      { origin: self.replace('http:', 'https:') }, // the same, through a TLS proxy
      { origin: 'app://console' }, // the desktop app (Electron, src-main/security.ts)
      { origin: 'https://wsp.example.org' },
      { origin: 'https://wsp-2.example.org' }, // a page of another instance failing over here
      { origin: 'https://tools.example.org' },
      {}, // not a browser
    ];
    for (const [i, socket] of pages.entries()) {
      const c = await TestClient.join(r.url, token, { name: `C${i}`, socket });
      clients.push(c);
      expect(c.welcome, JSON.stringify(socket)).toBeDefined();
    }
    // A page at localhost sends Host: localhost; it is the registry's own page there too.
    const local = await TestClient.join(r.url.replace('127.0.0.1', 'localhost'), token, { name: 'L', socket: { origin: self.replace('127.0.0.1', 'localhost') } });
    clients.push(local);
    expect(local.welcome).toBeDefined();
  });
});

describe('answers a browser cannot misread', () => {
  it('/healthz, /metrics, 404, 405 and 421 carry nosniff and a CSP of default-src none', async () => {
    const r = await registry();
    const answers = [
      await get(`${r.httpUrl}/healthz`),
      await get(`${r.httpUrl}/metrics`),
      await get(`${r.httpUrl}/nothing-here`),
      await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
        const req = request(`${r.httpUrl}/healthz`, { method: 'POST' }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, headers: res.headers });
        });
        req.on('error', reject);
        req.end();
      }),
      await get(`${r.httpUrl}/healthz`, { host: 'rebind.attacker.example' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 404, 405, 421]);
    for (const a of answers) {
      expect(a.headers['x-content-type-options']).toBe('nosniff');
      expect(a.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    }
  });
});

describe('the web root is the whole of what is served', () => {
  it('a symbolic link to a file or folder outside the web root is not followed (404); one inside it is', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'wsp-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'not for the web\n');
    const root = mkdtempSync(join(tmpdir(), 'wsp-root-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>console</title>');
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1);\n');
    symlinkSync(join(outside, 'secret.txt'), join(root, 'secret.txt'));
    symlinkSync(outside, join(root, 'etc'));
    symlinkSync(join(root, 'assets', 'app.js'), join(root, 'app.js'));
    const r = await registry({ webRoot: root });
    for (const path of ['/secret.txt', '/etc/secret.txt', '/etc/']) {
      const answer = await get(`${r.httpUrl}${path}`);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toContain('not for the web');
    }
    expect((await get(`${r.httpUrl}/app.js`)).body).toBe('console.log(1);\n');
    expect((await get(`${r.httpUrl}/`)).status).toBe(200);
  });

  it('a web root that is itself a symbolic link still serves its files', async () => {
    const real = mkdtempSync(join(tmpdir(), 'wsp-real-root-'));
    writeFileSync(join(real, 'index.html'), '<!doctype html><title>console</title>');
    const link = join(mkdtempSync(join(tmpdir(), 'wsp-link-')), 'root');
    symlinkSync(real, link);
    const r = await registry({ webRoot: link });
    expect((await get(`${r.httpUrl}/`)).status).toBe(200);
  });
});

describe('invites without an expiry', () => {
  it('an invite signed with the registry’s secret but without exp (or with a non-numeric one) is refused with INVITE_INVALID, close 4004', async () => {
    const inviteSecret = crypto.getRandomValues(new Uint8Array(32));
    const r = await registry({ inviteSecret });
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ project: 'alpha', ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setAudience('wsp-registry').setJti(crypto.randomUUID()).setIssuedAt().sign(inviteSecret);
    for (const token of [await sign({}), await sign({ exp: 'never' })]) {
      const c = await TestClient.join(r.url, token);
      clients.push(c);
      expect(c.errors()[0]).toMatchObject({ code: 'INVITE_INVALID', message: expect.stringMatching(/no valid expiry/) });
      expect(await c.waitForClose()).toBe(4004);
    }
    // The same claims with an expiry join: it is the missing exp that is refused.
    const ok = await TestClient.join(r.url, await sign({ exp: Math.floor(Date.now() / 1000) + 60 }));
    clients.push(ok);
    expect(ok.welcome).toBeDefined();
  });
});

describe('logs name the client, never its secrets', () => {
  it('connection, auth failure and abuse lines carry the client address; the invite token does not appear', async () => {
    const r = await registry({ limits: { badFrameTolerance: 0 } });
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const bad = await TestClient.join(r.url, token.slice(0, -4) + 'AAAA', { socket: { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.7' } } });
    clients.push(bad);
    await bad.waitForClose();
    const member = await TestClient.join(r.url, token, { name: 'Ada', socket: { localAddress: '127.0.0.3' } });
    clients.push(member);
    member.sendRaw('not msgpack');
    member.sendRaw('again');
    await member.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 50));

    const lines = r.logs.map((l) => JSON.parse(l) as { msg: string; addr?: string; code?: string; project?: string });
    expect(lines.find((l) => l.msg === 'connection opened' && l.addr === '127.0.0.2')).toBeDefined();
    expect(lines.find((l) => l.msg === 'connection refused' && l.code === 'INVITE_INVALID')).toMatchObject({ addr: '127.0.0.2' });
    expect(lines.find((l) => l.msg === 'console joined')).toMatchObject({ addr: '127.0.0.3', project: 'alpha' });
    expect(lines.find((l) => l.code === 'TOO_MANY_BAD_FRAMES')).toMatchObject({ addr: '127.0.0.3', project: 'alpha' });
    const log = r.logs.join('');
    // Not behind a proxy: a client's X-Forwarded-For is its own claim, not logged as its address.
    expect(log).not.toContain('203.0.113.7');
    expect(log).not.toContain(token.split('.')[2]!);
    expect(log).not.toContain(token.split('.')[1]!);
  });

  it('with trustProxy, the address the proxy appended to X-Forwarded-For is the client’s (and the proxy is named)', async () => {
    const r = await registry({ trustProxy: true });
    const c = await TestClient.join(r.url, 'not-a-token', { socket: { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' } } });
    clients.push(c);
    await c.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = r.logs.map((l) => JSON.parse(l) as { msg: string; addr?: string; via?: string }).find((l) => l.msg === 'connection refused');
    expect(refused).toMatchObject({ addr: '203.0.113.7', via: '127.0.0.2' });
  });
});
