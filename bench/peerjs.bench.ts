/**
 * Ours against PeerJS (the `peerjs` client and the `peer` PeerServer, devDependencies used only
 * here), in the same run on the same Chromium, everything on loopback:
 *   peerjs_link_setup_p50/p95  ours: the moment a console learns of a peer (its welcome's member
 *                        list or peer_joined, where the engine starts the link by itself) → the
 *                        link open on both sides; PeerJS: `peer.connect(id)` → the DataConnection
 *                        'open' on both sides, both peers already registered with the PeerServer.
 *                        ratio = PeerJS / ours (above 1: we are faster)
 *   peerjs_datachannel_throughput  one 64 MiB message: ours through PeerLink (`send` of one
 *                        message, as links.bench.ts), PeerJS through a DataConnection with its
 *                        default 'binary' serialization (`conn.send(buffer)`: PeerJS chunks it and
 *                        applies its own bufferedAmount flow control). ratio = ours / PeerJS
 * Neither side uses STUN or TURN: loopback host candidates only.
 */
import { it } from 'vitest';
import { chromium, type Browser, type Page } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { PeerServer } from 'peer';
import { createRegistry, type RegistryHandle } from '../src-main/registry/registry';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../tests/support/harness';
import type { PeerJsPage } from './peerjs-page/main';
import { bootstrapInterval, percentile, median, recordResult } from './stats';

const QUICK = process.env.BENCH_QUICK === '1';
const SETUP_LINKS = QUICK ? 6 : 60;
const BULK_BYTES = (QUICK ? 8 : 64) * 1024 * 1024;
const ROUNDS = QUICK ? 1 : 3;
const PEERJS_ROOT = resolve(__dirname, '../.test-output/peerjs-page');

async function buildPeerJsPage(): Promise<void> {
  const { build } = await import('vite');
  await build({
    root: resolve(__dirname, 'peerjs-page'),
    base: './',
    logLevel: 'warn',
    configFile: false,
    build: { outDir: PEERJS_ROOT, emptyOutDir: true, minify: false },
  });
}

/** The built page over http on loopback (an origin, so Chromium grants the loopback candidates). */
async function serveDir(root: string): Promise<{ origin: string; server: Server }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    readFile(join(root, path)).then(
      (body) => res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function startPeerServer(): Promise<{ port: number; close(): void }> {
  return new Promise((done) => {
    const app = PeerServer({ host: '127.0.0.1', port: 0, path: '/', key: 'peerjs', concurrent_limit: 100_000 }, (server) =>
      done({ port: (server.address() as AddressInfo).port, close: () => server.close() }),
    );
    app.on('error', () => undefined);
  });
}

class PeerJsConsole {
  private constructor(readonly page: Page, readonly close: () => Promise<void>) {}
  static async open(browser: Browser, origin: string, id: string, port: number): Promise<PeerJsConsole> {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`[peerjs page error] ${error.message}`));
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => 'pj' in window);
    const console_ = new PeerJsConsole(page, () => context.close());
    await console_.call('start', id, port);
    return console_;
  }
  call<K extends keyof PeerJsPage>(name: K, ...args: Parameters<PeerJsPage[K]>): Promise<Awaited<ReturnType<PeerJsPage[K]>>> {
    return this.page.evaluate(([n, a]) => (window as unknown as { pj: Record<string, (...x: unknown[]) => unknown> }).pj[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<Awaited<ReturnType<PeerJsPage[K]>>>;
  }
}

/** Polls gently: page.evaluate round trips compete for the same two cores as the transfer. */
async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((done) => setTimeout(done, pollMs));
  }
}

it('peerjs', async () => {
  await Promise.all([buildHarness(), buildPeerJsPage()]);
  const registry: RegistryHandle = await createRegistry({
    webRoot: HARNESS_ROOT,
    logger: pino({ level: 'silent' }),
    limits: { maxPeersPerProject: 1000 },
  });
  const peerServer = await startPeerServer();
  const pages = await serveDir(PEERJS_ROOT);
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const { link } = await registry.createInvite({ project: 'bench-peerjs', ttlMs: 3_600_000 });
  let serial = 0;
  const pjPair = () => Promise.all(['p', 'q'].map((name) => PeerJsConsole.open(browser, pages.origin, `bench-${name}-${++serial}`, peerServer.port)));
  try {
    // --- setup, interleaved so drift hits both alike ----------------------------------------------
    const [a, b] = await Promise.all([0, 1].map(() => HarnessConsole.open(browser, registry.httpUrl)));
    const [p, q] = await pjPair();
    const ours: number[] = [];
    const oursFromOffer: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < SETUP_LINKS; i++) {
      {
        const idA = await a!.join(link, 'A');
        await waitFor(async () => (await a!.call('registryState')) === 'connected');
        const idB = await b!.join(link, 'B');
        await waitFor(async () => (await a!.call('timing', idB)).open !== undefined && (await b!.call('timing', idA)).open !== undefined);
        const [ta, tb] = [await a!.call('timing', idB), await b!.call('timing', idA)];
        const known = Math.min(...[ta.known, tb.known].filter((t): t is number => t !== undefined));
        const offer = Math.min(...[ta.offer, tb.offer].filter((t): t is number => t !== undefined));
        ours.push(Math.max(ta.open!, tb.open!) - known);
        oursFromOffer.push(Math.max(ta.open!, tb.open!) - offer);
        await Promise.all([a!.call('leave'), b!.call('leave')]);
        await new Promise((done) => setTimeout(done, 50));
      }
      {
        const qId = `bench-q-${serial}`;
        const connectionId = await p!.call('connect', qId, 'binary');
        await waitFor(async () => (await p!.call('timing', connectionId)).open !== undefined && (await q!.call('timing', connectionId)).open !== undefined);
        const [tp, tq] = [await p!.call('timing', connectionId), await q!.call('timing', connectionId)];
        theirs.push(Math.max(tp.open!, tq.open!) - tp.connect!);
        await Promise.all([p!.call('closeAll'), q!.call('closeAll')]);
        await new Promise((done) => setTimeout(done, 50));
      }
    }
    console.log(`setup p50: ours ${percentile(ours, 50).toFixed(1)} ms from the peer known (${percentile(oursFromOffer, 50).toFixed(1)} ms from the first offer), PeerJS ${percentile(theirs, 50).toFixed(1)} ms from connect()`);
    // One run's p50 ratio moves by about ±10 % from run to run on this machine: the interval says how far to trust it.
    const setupRatio = (p: number) => bootstrapInterval(ours, theirs, (o, t) => percentile(t, p) / percentile(o, p));
    recordResult('peerjs_link_setup_p50', percentile(ours, 50), percentile(theirs, 50), 'ms (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true, interval: setupRatio(50) });
    recordResult('peerjs_link_setup_p95', percentile(ours, 95), percentile(theirs, 95), 'ms (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true, interval: setupRatio(95) });
    await Promise.all([a!.close(), b!.close(), p!.close(), q!.close()]);

    // --- 64 MiB through one link -----------------------------------------------------------------
    const throughput: number[] = [];
    const theirThroughput: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      {
        const [c, d] = await Promise.all([0, 1].map(() => HarnessConsole.open(browser, registry.httpUrl)));
        const idC = await c!.join(link, 'C');
        const idD = await d!.join(link, 'D');
        await c!.waitForState(idD, ['direct']);
        const { hash, startedAt } = await c!.call('sendBlob', idD, BULK_BYTES);
        await waitFor(async () => (await d!.call('received', idC)).blobs.includes(hash), 120_000, 250);
        throughput.push(BULK_BYTES / 1024 ** 2 / (((await d!.call('receivedAt')) - startedAt) / 1000));
        await Promise.all([c!.close(), d!.close()]);
      }
      {
        const [s, r] = await pjPair();
        const connectionId = await s!.call('connect', `bench-q-${serial}`, 'binary');
        await waitFor(async () => (await s!.call('timing', connectionId)).open !== undefined && (await r!.call('timing', connectionId)).open !== undefined);
        const { hash, startedAt } = await s!.call('sendBlob', connectionId, BULK_BYTES);
        await waitFor(async () => (await r!.call('received')).hash === hash, 120_000, 250);
        const { at } = await r!.call('received');
        theirThroughput.push(BULK_BYTES / 1024 ** 2 / ((at - startedAt) / 1000));
        await Promise.all([s!.close(), r!.close()]);
      }
    }
    console.log(`throughput: ours ${throughput.map((t) => t.toFixed(2)).join(', ')} MiB/s; PeerJS ${theirThroughput.map((t) => t.toFixed(2)).join(', ')} MiB/s`);
    recordResult('peerjs_datachannel_throughput', median(throughput), median(theirThroughput), 'MiB/s (baseline: PeerJS)', { ratio: 'ours/baseline', higherIsBetter: true });
  } finally {
    await browser.close();
    await registry.close();
    peerServer.close();
    pages.server.close();
  }
}, 900_000);
