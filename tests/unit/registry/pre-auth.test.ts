/**
 * Work before authentication is bounded (issue 16, item 3). The flood test runs the real CLI as
 * its own process under a 256-descriptor limit, as the probe that found the hole did: 300
 * half-open sockets from one address used to take every descriptor, so joins and /healthz failed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TestClient } from '../../support/registry-client';
import { buildRegistryCli } from '../../support/registry-cli';
import { startTestRegistry } from '../../support/registry-fixture';
import { addressKey } from '../../../src-main/registry/admission';
import type { RegistryHandle } from '../../../src-main/registry/registry';

const OUT = resolve(__dirname, '../../../.test-output/pre-auth');
const CLI = join(OUT, 'wsp-registry.cjs');
const FLOODER = '127.0.0.2';

let children: ChildProcess[] = [];
let clients: TestClient[] = [];
let registries: RegistryHandle[] = [];
let sockets: Socket[] = [];

beforeAll(async () => {
  await buildRegistryCli(OUT);
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  await Promise.all(children.map((child) => new Promise((done) => (child.exitCode !== null ? done(null) : (child.once('exit', done), child.kill('SIGKILL'))))));
  sockets = [];
  clients = [];
  registries = [];
  children = [];
});

/** The standalone registry with at most `descriptors` open files (sockets included). */
async function startCli(descriptors: number, args: string[]) {
  const dataDir = mkdtempSync(join(tmpdir(), 'wsp-pre-auth-'));
  const child = spawn('sh', ['-c', `ulimit -n ${descriptors} && exec "$0" "$@"`, process.execPath, CLI, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--no-stun', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const httpUrl = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`wsp-registry did not start: ${log}`)), 10_000);
    const check = () => {
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        done(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => fail(new Error(`wsp-registry exited with ${code}: ${log}`)));
  });
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'invite', '--project', 'alpha', '--data-dir', dataDir, '--public-url', httpUrl]);
  const token = new URLSearchParams(stdout.trim().split('#')[1]).get('invite')!;
  return { httpUrl, wsUrl: httpUrl.replace('http:', 'ws:') + '/ws', port: Number(new URL(httpUrl).port), token, log: () => log };
}

type Kind = 'silent' | 'partial header' | 'upgraded, silent';
const REQUEST: Record<Kind, string> = {
  silent: '',
  'partial header': 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webso',
  'upgraded, silent':
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
};

interface HalfOpen {
  kind: Kind;
  socket: Socket;
  /** ms after the flood started, once the registry has closed it */
  closedAfter?: number;
}

/** Opens sockets from `localAddress` that never finish a request or never say hello. */
async function flood(port: number, localAddress: string, perKind: number, kinds: Kind[] = ['silent', 'partial header', 'upgraded, silent']): Promise<HalfOpen[]> {
  const started = Date.now();
  // Interleaved, so the ones the registry keeps are of every kind.
  const all = Array.from({ length: perKind }, () => kinds).flat();
  return Promise.all(
    all.map(
      (kind) =>
        new Promise<HalfOpen>((done) => {
          const socket = connect({ host: '127.0.0.1', port, localAddress });
          sockets.push(socket);
          const entry: HalfOpen = { kind, socket };
          socket.on('error', () => undefined); // refused ones are reset
          socket.resume(); // read (and drop) what comes, so the registry's close is seen
          socket.once('close', () => {
            entry.closedAfter = Date.now() - started;
            done(entry); // refused before it even connected
          });
          socket.once('connect', () => {
            if (REQUEST[kind]) socket.write(REQUEST[kind]);
            done(entry);
          });
        }),
    ),
  );
}

const open = (entries: HalfOpen[]) => entries.filter((e) => e.closedAfter === undefined);

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('work before authentication is bounded', () => {
  it('300 half-open sockets from one address, under a 256-descriptor limit: joins from another address work, /healthz answers, and the flood is closed after the timeouts', async () => {
    const registry = await startCli(256, ['--max-unauthenticated-per-address', '16', '--request-timeout', '2s', '--auth-timeout', '2s']);
    const halfOpen = await flood(registry.port, FLOODER, 100);

    // The registry keeps 16 of them (its per-address cap) and cuts the rest as it accepts them.
    await until(() => open(halfOpen).length <= 16, 5000, 'the sockets over the cap to be cut');
    const kept = open(halfOpen);
    expect(kept).toHaveLength(16);
    expect(new Set(kept.map((e) => e.kind)).size).toBe(3);

    // Meanwhile (the 16 are still open: their timeout is 2 s) a console from 127.0.0.1 joins and /healthz answers.
    const ada = await TestClient.join(registry.wsUrl, registry.token, { name: 'Ada' });
    clients.push(ada);
    expect(ada.welcome).toMatchObject({ project_id: 'alpha' });
    const health = await fetch(`${registry.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', consoles: 1 });
    expect(open(halfOpen).length).toBeGreaterThan(0); // the flood still holds its share

    // The kept ones are closed by the registry: unfinished requests at the request timeout (2 s,
    // checked every 0.5 s), upgraded sockets at the auth timeout (2 s) plus the close grace (2 s).
    await until(() => open(halfOpen).length === 0, 10_000, 'the registry to close every half-open socket');
    for (const e of kept) expect(e.closedAfter, e.kind).toBeLessThan(e.kind === 'upgraded, silent' ? 6000 : 4000);
    expect(ada.closeCode).toBeUndefined(); // the console stays

    const metrics = await (await fetch(`${registry.httpUrl}/metrics`)).text();
    const refused = Number(/^wsp_registry_refused_connections_total\{reason="address_limit"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(refused).toBe(300 - 16);
    expect(Number(/^wsp_registry_request_timeouts_total (\d+)$/m.exec(metrics)?.[1])).toBe(kept.filter((e) => e.kind !== 'upgraded, silent').length);
    // What is open now: this request's own connection (and perhaps /healthz's, kept alive).
    expect(Number(/^wsp_registry_unauthenticated_connections (\d+)$/m.exec(metrics)?.[1])).toBeLessThanOrEqual(2);
    // The operator can see who it was.
    expect(registry.log()).toMatch(new RegExp(`"addr":"${FLOODER.replace(/\./g, '\\.')}".*connection refused: 16 unauthenticated connections already open from this address`));
  }, 30_000);

  it('caps unauthenticated connections in total; welcomed consoles do not count', async () => {
    const r = await startTestRegistry({ limits: { maxUnauthenticated: 4, maxUnauthenticatedPerAddress: 3 } });
    registries.push(r);
    const { token } = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    for (const name of ['A', 'B', 'C', 'D', 'E', 'F']) clients.push(await TestClient.join(r.url, token, { name }));
    expect(clients.every((c) => c.welcome)).toBe(true);

    const port = Number(new URL(r.httpUrl).port);
    const first = await flood(port, '127.0.0.3', 3, ['silent']);
    const second = await flood(port, '127.0.0.4', 3, ['silent']);
    await until(() => open([...first, ...second]).length <= 4, 5000, 'the sockets over the total to be cut');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(open(first)).toHaveLength(3);
    expect(open(second)).toHaveLength(1);
    const metrics = await (await fetch(`${r.httpUrl}/metrics`).catch(() => undefined))?.text();
    // /metrics itself is refused while the total is used up: that is the cost of a total cap.
    expect(metrics).toBeUndefined();
    for (const e of [...first, ...second]) e.socket.destroy();
    await until(() => open([...first, ...second]).length === 0, 2000, 'the flood to end');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(after).toMatch(/^wsp_registry_refused_connections_total\{reason="total_limit"\} [34]$/m);
    expect(after).toMatch(/^wsp_registry_unauthenticated_connections 1$/m);
    expect(after).toMatch(/^wsp_registry_consoles 6$/m);
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped one by its IPv4 address', () => {
    expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
  });
});
