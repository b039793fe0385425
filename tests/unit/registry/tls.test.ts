/**
 * TLS without a proxy (issue 20): `wsp-registry --tls-cert F --tls-key F` serves https and wss
 * itself, mints https:// invites, reloads its certificate on SIGHUP without dropping consoles, and
 * refuses to start on a missing file or a key that is not the certificate's. The CLI runs as its own
 * process, built from the sources under test; the CA is made by the test (openssl).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { TestClient } from '../../support/registry-client';
import { buildRegistryCli } from '../../support/registry-cli';
import { createTestCa, type IssuedCert, type TestCa } from '../../support/test-ca';

const OUT = resolve(__dirname, '../../../.test-output/registry-tls');
const CLI = join(OUT, 'wsp-registry.cjs');

let ca: TestCa;
let children: ChildProcess[] = [];
let clients: TestClient[] = [];

beforeAll(async () => {
  await buildRegistryCli(OUT);
  ca = createTestCa();
}, 60_000);

afterAll(() => rmSync(ca.dir, { recursive: true, force: true }));

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(children.map((child) => new Promise((done) => (child.exitCode !== null ? done(null) : (child.once('exit', done), child.kill('SIGKILL'))))));
  clients = [];
  children = [];
});

/** The CLI serving with these files; `output()` is everything it printed so far. */
async function serve(args: string[], dataDir = mkdtempSync(join(tmpdir(), 'wsp-tls-'))) {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--data-dir', dataDir, '--no-stun', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [httpUrl, wsUrl] = await new Promise<[string, string]>((resolveUrl, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (\S+) \(signaling (\S+)\)/.exec(out);
      if (match) {
        clearInterval(timer);
        resolveUrl([match[1]!, match[2]!]);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`wsp-registry exited with ${code}: ${out}`));
    });
  });
  return { child, dataDir, httpUrl, wsUrl, output: () => out };
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function getJson(url: string, trusted: string | undefined): Promise<{ status: number; body: unknown }> {
  return new Promise((done, fail) => {
    get(url, trusted ? { ca: trusted } : {}, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
    }).on('error', fail);
  });
}

/** The certificate a fresh TLS connection to the registry is shown. */
function servedCertificate(httpUrl: string): Promise<string> {
  const { hostname, port } = new URL(httpUrl);
  return new Promise((done, fail) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: ca.cert, servername: 'localhost' }, () => {
      done(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.on('error', fail);
  });
}

const fingerprint = (cert: IssuedCert) => new X509Certificate(cert.cert).fingerprint256;
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

describe('wsp-registry --tls-cert --tls-key', () => {
  it('serves https and wss: /healthz with the CA trusted (and not without it), a console joins over wss, invites carry https://', async () => {
    const cert = ca.issue('registry', { dns: ['localhost'], ip: ['127.0.0.1'] });
    const registry = await serve(['--host', '127.0.0.1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile]);
    expect(registry.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(registry.wsUrl).toBe(`${registry.httpUrl.replace('https:', 'wss:')}/ws`);
    expect(await getJson(`${registry.httpUrl}/healthz`, ca.cert)).toMatchObject({ status: 200, body: { status: 'ok' } });
    await expect(getJson(`${registry.httpUrl}/healthz`, undefined)).rejects.toThrow(/certificate/);

    // The invite command, pointed at this registry's port and certificate, links to https://.
    const port = new URL(registry.httpUrl).port;
    const invite = await cli('invite', '--project', 'alpha', '--data-dir', registry.dataDir, '--port', port, '--tls-cert', cert.certFile);
    expect(invite.stdout.trim()).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${port}/#invite=`));
    const token = /#invite=([^&\s]+)/.exec(invite.stdout)![1]!;
    const ada = await TestClient.join(registry.wsUrl, token, { name: 'Ada', socket: { ca: ca.cert } });
    clients.push(ada);
    expect(ada.welcome.peer_id).toBe(ada.identity.peerId);
    // A console welcomed over TLS no longer counts as an unauthenticated connection: only this request does.
    const metrics = await new Promise<string>((done, fail) =>
      get(`${registry.httpUrl}/metrics`, { ca: ca.cert }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => done(body));
      }).on('error', fail),
    );
    expect(metrics).toMatch(/^wsp_registry_unauthenticated_connections 1$/m);
  });

  it('reloads the certificate on SIGHUP: a connected console stays, a new connection gets the new certificate; a bad pair is refused and the old one kept', async () => {
    const first = ca.issue('registry', { dns: ['localhost'], ip: ['127.0.0.1'] });
    const dir = mkdtempSync(join(tmpdir(), 'wsp-tls-live-'));
    const certFile = join(dir, 'fullchain.pem');
    const keyFile = join(dir, 'privkey.pem');
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    const registry = await serve(['--host', '127.0.0.1', '--tls-cert', certFile, '--tls-key', keyFile]);
    const port = new URL(registry.httpUrl).port;
    const token = /#invite=([^&\s]+)/.exec((await cli('invite', '--project', 'alpha', '--data-dir', registry.dataDir, '--port', port, '--tls-cert', certFile)).stdout)![1]!;
    const ada = await TestClient.join(registry.wsUrl, token, { name: 'Ada', socket: { ca: ca.cert } });
    clients.push(ada);
    expect(await servedCertificate(registry.httpUrl)).toBe(fingerprint(first));

    const renewed = ca.issue('registry', { dns: ['localhost'], ip: ['127.0.0.1'] });
    copyFileSync(renewed.certFile, certFile);
    copyFileSync(renewed.keyFile, keyFile);
    registry.child.kill('SIGHUP');
    await until(() => registry.output().includes('reloaded the TLS certificate'), 'the reload');
    expect(await servedCertificate(registry.httpUrl)).toBe(fingerprint(renewed));
    // Ada's WebSocket (made with the old certificate) is still open and still served.
    const bob = await TestClient.join(registry.wsUrl, token, { name: 'Bob', socket: { ca: ca.cert } });
    clients.push(bob);
    await ada.waitFor((f) => f.type === 'peer_joined' && f.peer.display_name === 'Bob');
    expect(ada.closeCode).toBeUndefined();

    // A key of another certificate: reported, the renewed certificate stays, the registry stays up.
    copyFileSync(first.keyFile, keyFile);
    registry.child.kill('SIGHUP');
    await until(() => registry.output().includes('kept the previous TLS certificate'), 'the refusal');
    expect(registry.output()).toMatch(/kept the previous TLS certificate: .*is not the private key of the certificate/);
    expect(await servedCertificate(registry.httpUrl)).toBe(fingerprint(renewed));
    expect(registry.child.exitCode).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cuts a connection that never starts the TLS handshake after the request timeout (not Node’s default 2 minutes)', async () => {
    const cert = ca.issue('registry', { ip: ['127.0.0.1'] });
    const registry = await serve(['--host', '127.0.0.1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--request-timeout', '1s']);
    const socket = tcpConnect(Number(new URL(registry.httpUrl).port), '127.0.0.1');
    socket.on('error', () => undefined); // a reset is as good as a close here
    const openedAt = Date.now();
    await new Promise((done) => socket.once('close', done));
    expect(Date.now() - openedAt).toBeLessThan(4000);
  });

  it('refuses to start, with a clear error and a non-zero exit, on a missing file, a key of another certificate, or one of the two options alone', async () => {
    const cert = ca.issue('registry', { ip: ['127.0.0.1'] });
    const other = ca.issue('other', { ip: ['127.0.0.1'] });
    const start = (...args: string[]) => cli('--port', '0', '--data-dir', mkdtempSync(join(tmpdir(), 'wsp-tls-bad-')), '--no-stun', ...args);

    const missing = await start('--tls-cert', join(ca.dir, 'nope.pem'), '--tls-key', cert.keyFile);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--tls-cert .*nope\.pem: no such file/);
    const mismatched = await start('--tls-cert', cert.certFile, '--tls-key', other.keyFile);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stderr).toContain(`the key ${other.keyFile} is not the private key of the certificate ${cert.certFile}`);
    const notPem = await start('--tls-cert', cert.keyFile, '--tls-key', cert.keyFile);
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toMatch(/must be a PEM certificate \(chain\) and its PEM private key/);
    const alone = await start('--tls-cert', cert.certFile);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });
});
