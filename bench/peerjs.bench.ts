/**
 * Ours against PeerJS (the `peerjs` client and the `peer` PeerServer, devDependencies used only
 * here), in the same run on the same Chromium, everything on loopback:
 *   peerjs_link_setup_p50/p95  ours: the moment a console learns of a peer (its welcome's member
 *                        list or peer_joined, where the engine starts the link by itself) → the
 *                        link open on both sides; PeerJS: `peer.connect(id)` → the DataConnection
 *                        'open' on both sides, both peers already registered with the PeerServer.
 *                        ratio = PeerJS / ours (above 1: we are faster)
 *   peerjs_cold_setup_p50/p95  the same, with no connection made ahead on our side
 *                        (`prepareConnections: false`: no prepared offer, no bare connection;
 *                        signing on as always) against the same PeerJS setups (PeerJS makes
 *                        both connections inside the timed window anyway). ratio = PeerJS / ours
 *   peerjs_burst_setup(_p95)  ten consoles join at once and an eleventh 100 ms later (inside the
 *                        prepared connection's 250 ms settle time): from the first join call to
 *                        all 55 links open on both sides (median of rounds); _p95: the 95th
 *                        percentile of the burst's links, each from its peer known (ours) or
 *                        connect() (PeerJS) to open on both sides. PeerJS: eleven Peers registering
 *                        at once (the eleventh 100 ms later), each connecting to every peer before
 *                        it as soon as the server said OPEN. ratio = PeerJS / ours
 *   peerjs_datachannel_throughput  one 64 MiB message: ours through PeerLink (`send` of one
 *                        message, as links.bench.ts), PeerJS through a DataConnection with its
 *                        default 'binary' serialization (`conn.send(buffer)`: PeerJS chunks it and
 *                        applies its own bufferedAmount flow control). ratio = ours / PeerJS
 *   peerjs_fast_throughput  the same 64 MiB against PeerJS's fastest mode in this run: 'raw'
 *                        (64 KiB messages through its send queue) or the MessagePack stream
 *                        connection (MsgPackPeer, 256 KiB messages, paced by bufferedamountlow).
 *                        ratio = ours / PeerJS
 * Neither side uses STUN or TURN: loopback host candidates only. Each server runs as its own Node
 * process (bench/servers/), as in the product, where the registry never shares a process with a
 * test driver: here Playwright, driving up to 22 pages, would delay both systems' signaling alike.
 * The bench, both servers and the browser share one cpu cgroup (sched-group.ts): with sched
 * autogroup, Chromium in a session of its own took both cores from both servers for up to 1.8 s.
 */
import { it } from 'vitest';
import { chromium, type Browser, type Page } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setPriority } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { CHROMIUM_ARGS, CHROMIUM_BASE_ARGS, chromiumPath } from '../tests/support/chromium';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../tests/support/harness';
import type { PeerJsPage } from './peerjs-page/main';
import type { Harness } from '../tests/browser/harness/main';
import { bootstrapInterval, percentile, median, recordResult } from './stats';
import { startServer, stopServer, type ServerProcess } from './server-process';
import { bundleForNode } from '../tests/support/registry-cli';
import { SETUP_TRACE, printSetupTraces, recordSetupTrace } from './setup-trace';
import { joinOwnCpuGroup } from './sched-group';
import { BURST_PROFILE, PROFILE_DIR, PageProbe, countCandidates, countTraceEvents, describeProbes, describeThreadCpu, threadCpuMs } from './burst-probe';
import { eagerlyCompiledChunk } from '../scripts/compile-hints';
import { BURST_PERF, BurstPerf, PERF_JS_FLAGS } from './burst-perf';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_ONLY=setup runs only the setup comparison (warm and cold), for quick iterations on link setup. */
const ONLY_SETUP = process.env.BENCH_ONLY === 'setup';
const SETUP_LINKS = QUICK ? 6 : 60;
const BULK_BYTES = (QUICK ? 8 : 64) * 1024 * 1024;
/** Throughput rounds (ours, then each PeerJS mode); BENCH_PJ_ROUNDS raises it for a tighter interval. */
const ROUNDS = Number(process.env.BENCH_PJ_ROUNDS) || (QUICK ? 1 : 3);
/** Burst rounds (each ours then PeerJS); BENCH_BURST_ROUNDS raises it for a tighter interval. */
const BURST_ROUNDS = Number(process.env.BENCH_BURST_ROUNDS) || (QUICK ? 1 : 4);
/** The burst: this many consoles at once, then one more after BURST_LATE_MS (inside SETTLE_MS, 250 ms). */
const BURST = 10;
const BURST_LATE_MS = 100;
/** Message sizes a PeerJS user would pick for bulk bytes in each mode (see the page's sendChunked). */
const RAW_CHUNK = 64 * 1024;
const MSGPACK_CHUNK = 256 * 1024;
const PEERJS_ROOT = resolve(__dirname, '../.test-output/peerjs-page');
const SERVERS_OUT = resolve(__dirname, '../.test-output/peerjs-servers');
/** BENCH_BURST_PROFILE=1: the page whose main thread is profiled in each system's round (bench/burst-probe.ts). */
const PROFILED = 5;
/** BENCH_ONLY=burst runs only the burst (for quick iterations on admission). */
const ONLY_BURST = process.env.BENCH_ONLY === 'burst';
/** BENCH_ONLY=throughput runs only the 64 MiB transfers (peerjs_datachannel_throughput, peerjs_fast_throughput). */
const ONLY_THROUGHPUT = process.env.BENCH_ONLY === 'throughput';
/**
 * BENCH_BURST_TIMELINE=1 prints each burst round's timeline: per console, when (ms after the first
 * join call) it had its identity and session, its socket open, the challenge, sent its hello, got
 * its welcome, knew of its last peer, and its last link opened; and the registry's own log of
 * connections opened and consoles joined.
 */
const BURST_TIMELINE = process.env.BENCH_BURST_TIMELINE === '1';
// BENCH_BURST_PROFILE=1 (bench/burst-probe.ts): where each round's CPU went, per system.
/**
 * The burst's consoles are returning ones, whose identity is stored (made before the timed window,
 * as the app loads it); BENCH_BURST_NEW_IDENTITY=1 makes them brand-new, creating it inside.
 */
const NEW_IDENTITY = process.env.BENCH_BURST_NEW_IDENTITY === '1';
/**
 * BENCH_BURST_TRACE=DIR writes a Chromium trace of the whole browser (every page, the `webrtc`
 * categories: which thread a page's main thread waits on) for the first round of each system:
 * DIR/ours.json, DIR/peerjs.json (open in Perfetto). It slows the round; not for figures.
 */
const BURST_TRACE = process.env.BENCH_BURST_TRACE;
/**
 * BENCH_JS_FLAGS passes V8 flags to the pages, for looking into what V8 does in them: with
 * `--trace-opt` and DEBUG=pw:browser, every function V8 compiles with Maglev or TurboFan, and how
 * long it took (docs/BENCHMARKS.md, "Burst: the registry's admissions tested, and what V8 compiles"). Figures are without it.
 */
const JS_FLAGS = process.env.BENCH_JS_FLAGS;
const TRACE_CATEGORIES = ['webrtc', 'disabled-by-default-webrtc', 'toplevel', 'devtools.timeline', 'v8.execute', 'base'];
/**
 * The omnibox popup's renderers are off (tests/support/chromium.ts: one per context, loaded inside
 * a burst round's timed window, for either system); BENCH_KEEP_OMNIBOX_WEBUI=1 keeps them, with
 * Playwright's own switches only.
 */
const BROWSER_ARGS = process.env.BENCH_KEEP_OMNIBOX_WEBUI === '1' ? CHROMIUM_BASE_ARGS : CHROMIUM_ARGS;
/**
 * BENCH_SERVER_NICE=N (e.g. -10, as root) runs both servers at that scheduling priority, for looking
 * into the burst only: both servers get the same priority, and the figures in docs/BENCHMARKS.md are
 * without it. (Under sched autogroup a nice value only counts within the session's group, which is
 * why it changed nothing before the bench had a cpu cgroup of its own: sched-group.ts.)
 */
const SERVER_NICE = process.env.BENCH_SERVER_NICE === undefined ? undefined : Number(process.env.BENCH_SERVER_NICE);

async function buildPeerJsPage(): Promise<void> {
  const { build } = await import('vite');
  await build({
    root: resolve(__dirname, 'peerjs-page'),
    base: './',
    logLevel: 'warn',
    configFile: false,
    build: { outDir: PEERJS_ROOT, emptyOutDir: true, minify: false },
    // PeerJS and what it runs on compiled when the page loads, as our engine is (scripts/compile-hints.ts).
    plugins: [eagerlyCompiledChunk('peerjs', /[\\/]node_modules[\\/]/, process.env.BENCH_COMPILE_HINTS !== '0')],
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

/** Each server as its own process (bench/servers/), bundled from the sources under test. */
async function startServers(): Promise<{ registry: ServerProcess; registryUrl: string; peerServer: ServerProcess; leaveCpuGroup: () => Promise<void> }> {
  await bundleForNode(SERVERS_OUT, { 'registry-server': resolve(__dirname, 'servers/registry-server.ts'), 'peer-server': resolve(__dirname, 'servers/peer-server.ts') }, 'es');
  // After the build (whose esbuild service outlives it), before either server or the browser starts, so that both land in it.
  const leaveCpuGroup = joinOwnCpuGroup('wsp-bench-peerjs');
  const [registry, peerServer] = await Promise.all([
    startServer('registry', resolve(SERVERS_OUT, 'registry-server.mjs'), { BENCH_WEB_ROOT: HARNESS_ROOT, BENCH_REGISTRY_LOG: BURST_TIMELINE ? '1' : '0' }, { ipc: true }),
    startServer('PeerServer', resolve(SERVERS_OUT, 'peer-server.mjs'), {}, { ipc: true }),
  ]);
  if (SERVER_NICE !== undefined) for (const server of [registry, peerServer]) setPriority(server.pid, SERVER_NICE);
  return { registry, registryUrl: `http://127.0.0.1:${registry.port}`, peerServer, leaveCpuGroup };
}

interface ServerLoad {
  loopMaxMs: number;
  loopP99Ms: number;
  cpuMs: number;
  /** Only from a server process (servers/ipc.ts): the worst 10 ms tick's gap, when it ended (epoch ms), the window in CLOCK_MONOTONIC ms. */
  worstGapMs?: number;
  worstEndedAt?: number;
  monoWindow?: [number, number];
}
const describeLoad = (name: string, load: ServerLoad, start?: number) =>
  `${name}: event loop delay max ${load.loopMaxMs.toFixed(0)} ms, p99 ${load.loopP99Ms.toFixed(0)} ms; CPU ${load.cpuMs.toFixed(0)} ms` +
  (load.worstGapMs === undefined || start === undefined ? '' : `; worst tick gap ${load.worstGapMs.toFixed(0)} ms, ending at ${(load.worstEndedAt! - start).toFixed(0)} ms; monotonic window ${load.monoWindow!.map((t) => t.toFixed(0)).join('–')} ms`);

class PeerJsConsole {
  private constructor(readonly page: Page, readonly close: () => Promise<void>) {}
  /** The page, registered as `id` unless `id` is undefined (the burst registers later). */
  static async open(browser: Browser, origin: string, id: string | undefined, port: number, kind: 'default' | 'msgpack' = 'default'): Promise<PeerJsConsole> {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`[peerjs page error] ${error.message}`));
    await page.goto(`${origin}/index.html`);
    await page.waitForFunction(() => 'pj' in window);
    const console_ = new PeerJsConsole(page, () => context.close());
    if (id !== undefined) await console_.call('start', id, port, kind);
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

/** `work`, or a 'timed out' error after timeoutMs. */
async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error('benchmark step timed out')), timeoutMs)));
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

type BurstTimings = ReturnType<Harness['timings']>;

/**
 * CPU time (ms) of this process's descendants (the browser's processes), from /proc: the burst is
 * CPU-bound on two cores, so its CPU cost says what a busier machine would stretch (BENCH_BURST_TIMELINE).
 */
function browserCpuMs(exclude: ServerProcess[]): number {
  const tick = 1000 / 100; // USER_HZ
  const stats = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      try {
        const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
        return [{ pid: Number(pid), ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) * tick }];
      } catch {
        return []; // gone meanwhile
      }
    });
  const children = new Map<number, typeof stats>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  let total = 0;
  const servers = new Set(exclude.map((s) => s.pid));
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (servers.has(child.pid)) continue;
      total += child.cpu;
      visit(child.pid);
    }
  };
  visit(process.pid);
  return total;
}

/** One burst round, console by console (BENCH_BURST_TIMELINE): ms after the first join call. */
function printBurstTimeline(round: number, ids: string[], timings: BurstTimings[], start: number, registryLog: Array<{ time: number; msg: string }>): void {
  const at = (t: number | undefined) => (t === undefined ? '-' : (t - start).toFixed(0).padStart(5));
  const last = (values: Array<number | undefined>) => Math.max(...values.filter((v): v is number => v !== undefined));
  const first = (values: Array<number | undefined>) => Math.min(...values.filter((v): v is number => v !== undefined));
  console.log(`burst round ${round}: ms after the first join call`);
  console.log('console | join | identity | session | ws open | challenge | hello | welcome | first known | last known | first offer out | first signal in | first open | last open');
  timings.forEach((t, i) => {
    const links = Object.values(t.links);
    const s = t.steps;
    console.log(
      [i === BURST ? 'late' : String(i), at(t.joinCalledAt), at(s.identity), at(s.session), at(s.socketOpen), at(s.challenge), at(s.hello), at(s.welcome), at(first(links.map((l) => l.known))), at(last(links.map((l) => l.known))), at(first(links.map((l) => l.offer))), at(first(links.map((l) => l.signal))), at(first(links.map((l) => l.open))), at(last(links.map((l) => l.open)))].join(' | '),
    );
  });
  // The late console's links, seen from each earlier console: it heard of the late one, sent its offer, the offer arrived, each end opened.
  const lateId = ids[BURST]!;
  const late = timings[BURST]!;
  console.log(`late console's links (known at peer / offer out at peer / offer in at late / open at late / open at peer): ${timings
    .slice(0, BURST)
    .map((t, i) => `${i}: ${[t.links[lateId]?.known, t.links[lateId]?.offer, late.links[ids[i]!]?.signal, late.links[ids[i]!]?.open, t.links[lateId]?.open].map((v) => at(v).trim()).join('/')}`)
    .join(', ')}`);
  const registryAt = (msg: string) => registryLog.filter((l) => l.msg === msg).map((l) => l.time - start).sort((x, y) => x - y).map((t) => t.toFixed(0));
  console.log(`registry: connections opened at ${registryAt('connection opened').join(', ')}; consoles joined (welcome sent) at ${registryAt('console joined').join(', ')}`);
}

it('peerjs', async () => {
  await Promise.all([buildHarness(), buildPeerJsPage()]);
  const { registry, registryUrl, peerServer, leaveCpuGroup } = await startServers();
  const servers = [registry, peerServer];
  const pages = await serveDir(PEERJS_ROOT);
  const jsFlags = [JS_FLAGS, BURST_PERF ? PERF_JS_FLAGS : undefined].filter(Boolean).join(' ');
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: [...BROWSER_ARGS, ...(jsFlags ? [`--js-flags=${jsFlags}`] : [])] });
  const link = await registry.request<string>('invite', { project: 'bench-peerjs' });
  let serial = 0;
  const pjPair = (kind: 'default' | 'msgpack' = 'default') => {
    serial++;
    return Promise.all(['p', 'q'].map((name) => PeerJsConsole.open(browser, pages.origin, `bench-${name}-${serial}`, peerServer.port, kind)));
  };
  try {
    // Not indented under the condition, so that this block's history stays readable.
    if (!ONLY_BURST && !ONLY_THROUGHPUT) {
    // --- setup, interleaved so drift hits both alike ----------------------------------------------
    const [a, b] = await Promise.all([0, 1].map(() => HarnessConsole.open(browser, registryUrl)));
    // Traced (BENCH_SETUP_TRACE), the PeerJS pages are registered after the trace is installed, so their signaling socket is seen too.
    const [p, q] = SETUP_TRACE ? await Promise.all([0, 1].map(() => PeerJsConsole.open(browser, pages.origin, undefined, peerServer.port))) : await pjPair();
    if (SETUP_TRACE) {
      await Promise.all([a!.call('installTrace'), b!.call('installTrace'), p!.call('installTrace'), q!.call('installTrace')]);
      serial++;
      await Promise.all([p!.call('start', `bench-p-${serial}`, peerServer.port), q!.call('start', `bench-q-${serial}`, peerServer.port)]);
    }
    const ours: number[] = [];
    const oursFromOffer: number[] = [];
    const oursCold: number[] = [];
    const theirs: number[] = [];
    /** One of our links, A in the project first, B joining: peer known → open on both sides. */
    const ourSetup = async (options: { prepareConnections?: boolean }) => {
      const idA = await a!.join(link, 'A', {}, 'engine', options);
      await waitFor(async () => (await a!.call('registryState')) === 'connected');
      const idB = await b!.join(link, 'B', {}, 'engine', options);
      await waitFor(async () => (await a!.call('timing', idB)).open !== undefined && (await b!.call('timing', idA)).open !== undefined);
      const [ta, tb] = [await a!.call('timing', idB), await b!.call('timing', idA)];
      const known = Math.min(...[ta.known, tb.known].filter((t): t is number => t !== undefined));
      const offer = Math.min(...[ta.offer, tb.offer].filter((t): t is number => t !== undefined));
      // A, in the project first, hears of B and offers.
      if (SETUP_TRACE) recordSetupTrace(options.prepareConnections === false ? 'cold' : 'warm', await a!.call('takeTrace'), await b!.call('takeTrace'), [await a!.call('traceStats'), await b!.call('traceStats')]);
      await Promise.all([a!.call('leave'), b!.call('leave')]);
      await new Promise((done) => setTimeout(done, 50));
      return { fromKnown: Math.max(ta.open!, tb.open!) - known, fromOffer: Math.max(ta.open!, tb.open!) - offer };
    };
    for (let i = 0; i < SETUP_LINKS; i++) {
      {
        const { fromKnown, fromOffer } = await ourSetup({});
        ours.push(fromKnown);
        oursFromOffer.push(fromOffer);
      }
      oursCold.push((await ourSetup({ prepareConnections: false })).fromKnown);
      {
        const qId = `bench-q-${serial}`;
        const connectionId = await p!.call('connect', qId, 'binary');
        await waitFor(async () => (await p!.call('timing', connectionId)).open !== undefined && (await q!.call('timing', connectionId)).open !== undefined);
        const [tp, tq] = [await p!.call('timing', connectionId), await q!.call('timing', connectionId)];
        theirs.push(Math.max(tp.open!, tq.open!) - tp.connect!);
        if (SETUP_TRACE) recordSetupTrace('peerjs', await p!.call('takeTrace'), await q!.call('takeTrace'), [await p!.call('traceStats'), await q!.call('traceStats')]);
        await Promise.all([p!.call('closeAll'), q!.call('closeAll')]);
        await new Promise((done) => setTimeout(done, 50));
      }
    }
    if (SETUP_TRACE) printSetupTraces();
    console.log(`setup p50: ours ${percentile(ours, 50).toFixed(1)} ms from the peer known (${percentile(oursFromOffer, 50).toFixed(1)} ms from the first offer), cold ${percentile(oursCold, 50).toFixed(1)} ms, PeerJS ${percentile(theirs, 50).toFixed(1)} ms from connect()`);
    // One run's p50 ratio moves by about ±10 % from run to run on this machine: the interval says how far to trust it.
    const setupRatio = (sample: number[], p: number) => bootstrapInterval(sample, theirs, (o, t) => percentile(t, p) / percentile(o, p));
    recordResult('peerjs_link_setup_p50', percentile(ours, 50), percentile(theirs, 50), 'ms (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true, interval: setupRatio(ours, 50) });
    recordResult('peerjs_link_setup_p95', percentile(ours, 95), percentile(theirs, 95), 'ms (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true, interval: setupRatio(ours, 95) });
    recordResult('peerjs_cold_setup_p50', percentile(oursCold, 50), percentile(theirs, 50), 'ms, no connection made ahead (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true, interval: setupRatio(oursCold, 50) });
    recordResult('peerjs_cold_setup_p95', percentile(oursCold, 95), percentile(theirs, 95), 'ms, no connection made ahead (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true, interval: setupRatio(oursCold, 95) });
    await Promise.all([a!.close(), b!.close(), p!.close(), q!.close()]);
    }
    if (ONLY_SETUP) return;

    // --- burst: ten join at once, an eleventh inside the settle time --------------------------------
    const burstMesh: number[] = [];
    /** Until the last pair knew of each other (admission and presence; ours only, for reading the figure). */
    const burstKnown: number[] = [];
    const burstLinks: number[] = [];
    const theirBurstMesh: number[] = [];
    const theirBurstLinks: number[] = [];
    const perf = BURST_PERF && !ONLY_THROUGHPUT ? await BurstPerf.start({ [registry.pid]: 'registry', [peerServer.pid]: 'PeerServer' }) : undefined;
    for (let round = 0; round < (ONLY_THROUGHPUT ? 0 : BURST_ROUNDS); round++) {
      {
        const consoles = await Promise.all(Array.from({ length: BURST + 1 }, () => HarnessConsole.open(browser, registryUrl)));
        // Returning consoles: the app loads its stored identity (BENCH_BURST_NEW_IDENTITY=1: brand-new ones, which make it when joining).
        if (!NEW_IDENTITY) await Promise.all(consoles.map((c) => c.call('makeIdentity')));
        const burstLink = await registry.request<string>('invite', { project: `bench-burst-${round}` });
        // This process runs Playwright, the registry its own: how late each event loop ran during the round.
        const loopDelay = monitorEventLoopDelay({ resolution: 10 });
        if (BURST_TIMELINE) {
          loopDelay.enable();
          await Promise.all([registry.request('log-start'), registry.request('monitor-start')]);
        }
        const probes = BURST_PROFILE ? await Promise.all(consoles.map((c) => PageProbe.attach(c.page))) : [];
        if (BURST_PROFILE) await Promise.all(consoles.map((c) => c.call('installTrace')));
        await probes[PROFILED]?.startProfile();
        const threadsAtStart = BURST_PROFILE ? threadCpuMs(process.pid, servers.map((s) => s.pid)) : undefined;
        const cpuAtStart = process.cpuUsage();
        const browserCpuAtStart = BURST_TIMELINE ? browserCpuMs(servers) : 0;
        const traced = BURST_TRACE !== undefined && round === 0;
        if (traced) await browser.startTracing(undefined, { path: `${BURST_TRACE}/ours.json`, categories: TRACE_CATEGORIES });
        perf?.begin('ours');
        const joins = consoles.slice(0, BURST).map((c, i) => c.join(burstLink, `burst ${i}`));
        await new Promise((done) => setTimeout(done, BURST_LATE_MS));
        joins.push(consoles[BURST]!.join(burstLink, 'late'));
        const ids = await Promise.all(joins);
        // Waited for in the pages, not polled: polls would cost CPU on the cores the round is measured on.
        await withTimeout(Promise.all(consoles.map((c, i) => c.call('whenLinked', ids.filter((_, j) => j !== i)))), 60_000);
        perf?.end('ours');
        if (traced) await browser.stopTracing();
        const timings = await Promise.all(consoles.map((c) => c.call('timings')));
        const start = Math.min(...timings.map((t) => t.joinCalledAt));
        if (BURST_PROFILE) {
          console.log(`ours round ${round}, threads until all open: ${describeThreadCpu(threadsAtStart!, threadCpuMs(process.pid, servers.map((s) => s.pid)))}`);
          console.log(`ours round ${round}, console ${PROFILED}'s main thread: ${await probes[PROFILED]!.stopProfile(PROFILE_DIR && `${PROFILE_DIR}/ours-${round}.cpuprofile`)}\n${await describeProbes('ours', probes)}`);
          await Promise.all(probes.map((p) => p.detach()));
          const sent: Record<string, number> = {};
          for (const counts of await Promise.all(consoles.map((c) => c.call('signalsOut')))) for (const [type, n] of Object.entries(counts)) sent[type] = (sent[type] ?? 0) + n;
          console.log(`ours round ${round}: console ${PROFILED}'s candidates (getStats): ${countCandidates(await consoles[PROFILED]!.call('traceStats'))}`);
          console.log(`ours round ${round}: WebRTC events, all consoles: ${countTraceEvents((await Promise.all(consoles.map((c) => c.call('takeTrace')))).flat())}`);
          console.log(`ours round ${round}: signaling messages sent, all consoles: ${Object.entries(sent).map(([type, n]) => `${type} ${n}`).join(', ')}`);
        }
        if (BURST_TIMELINE) {
          loopDelay.disable();
          const cpu = process.cpuUsage(cpuAtStart);
          const [registryLog, registryLoad] = await Promise.all([registry.request<Array<{ time: number; msg: string }>>('log-take'), registry.request<ServerLoad>('monitor-stop')]);
          console.log(`ours round ${round}: browser CPU ${(browserCpuMs(servers) - browserCpuAtStart).toFixed(0)} ms until all open`);
          printBurstTimeline(round, ids, timings, start, registryLog);
          console.log(`${describeLoad('bench process (Playwright)', { loopMaxMs: loopDelay.max / 1e6, loopP99Ms: loopDelay.percentile(99) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 })}; ${describeLoad('registry process', registryLoad, start)}`);
          // The two slowest links, peer known → open on both sides: each end's link history.
          const pairs = ids.flatMap((x, i) => ids.slice(i + 1).map((y, k) => ({ i, j: i + 1 + k, x, y })));
          const took = (p: (typeof pairs)[number]) => Math.max(timings[p.i]!.links[p.y]!.open!, timings[p.j]!.links[p.x]!.open!) - Math.min(timings[p.i]!.links[p.y]!.known!, timings[p.j]!.links[p.x]!.known!);
          // Every link's negotiation: which waited for an offer that never came in offerWaitMs, met
          // glare or resent its offer, and what those links took against the others.
          const eventful = new Map<string, number[]>();
          const plain: number[] = [];
          for (const p of pairs) {
            const events = new Set((await Promise.all([consoles[p.i]!.call('history', p.y), consoles[p.j]!.call('history', p.x)])).flat().map((h) => h.event));
            const marks = ['offer-wait', 'glare', 'offer-resent'].filter((e) => events.has(e));
            if (marks.length === 0) plain.push(took(p));
            for (const mark of marks) eventful.set(mark, [...(eventful.get(mark) ?? []), took(p)]);
          }
          const lastOpen = (p: (typeof pairs)[number]) => Math.max(timings[p.i]!.links[p.y]!.open!, timings[p.j]!.links[p.x]!.open!);
          const last = pairs.reduce((a, b) => (lastOpen(b) > lastOpen(a) ? b : a));
          console.log(
            `negotiation: ${[...eventful].map(([mark, t]) => `${t.length} link(s) with ${mark} (${t.map((x) => x.toFixed(0)).join(', ')} ms known → open)`).join('; ') || 'no offer-wait, glare or resent offer'}; ` +
              `the others ${plain.length} links, median ${median(plain).toFixed(0)} ms; the last link to open: ${last.i}-${last.j} at ${(lastOpen(last) - start).toFixed(0)} ms`,
          );
          for (const p of [...pairs].sort((u, v) => took(v) - took(u)).slice(0, 2)) {
            console.log(`slow link ${p.i}-${p.j}: ${took(p).toFixed(0)} ms from known to open`);
            for (const [side, c, other] of [[p.i, consoles[p.i]!, p.y], [p.j, consoles[p.j]!, p.x]] as const) {
              const history = await c.call('history', other);
              console.log(`  at ${side}: ${history.map((h) => `${(h.at - start).toFixed(0)} ${h.event}${h.detail ? ` (${h.detail})` : ''}`).join('; ')}`);
            }
          }
        }
        burstMesh.push(Math.max(...timings.flatMap((t) => Object.values(t.links).map((l) => l.open!))) - start);
        burstKnown.push(Math.max(...timings.flatMap((t) => Object.values(t.links).map((l) => l.known!))) - start);
        for (let i = 0; i < ids.length; i++)
          for (let j = i + 1; j < ids.length; j++) {
            const [x, y] = [timings[i]!.links[ids[j]!]!, timings[j]!.links[ids[i]!]!];
            burstLinks.push(Math.max(x.open!, y.open!) - Math.min(x.known!, y.known!));
          }
        await Promise.all(consoles.map((c) => c.close()));
      }
      {
        const peers = await Promise.all(Array.from({ length: BURST + 1 }, () => PeerJsConsole.open(browser, pages.origin, undefined, peerServer.port)));
        const ids = peers.map((_, i) => `burst-${round}-${i}-${++serial}`);
        const theirProbes = BURST_PROFILE ? await Promise.all(peers.map((peer) => PageProbe.attach(peer.page))) : [];
        if (BURST_PROFILE) await Promise.all(peers.map((peer) => peer.call('installTrace')));
        await theirProbes[PROFILED]?.startProfile();
        const theirThreadsAtStart = BURST_PROFILE ? threadCpuMs(process.pid, servers.map((s) => s.pid)) : undefined;
        const theirCpuAtStart = BURST_TIMELINE ? browserCpuMs(servers) : 0;
        const theirProcessCpu = process.cpuUsage();
        if (BURST_TIMELINE) await peerServer.request('monitor-start');
        const traced = BURST_TRACE !== undefined && round === 0;
        if (traced) await browser.startTracing(undefined, { path: `${BURST_TRACE}/peerjs.json`, categories: TRACE_CATEGORIES });
        perf?.begin('PeerJS');
        const starts = peers.slice(0, BURST).map((peer, i) => peer.call('startAndConnect', ids[i]!, peerServer.port, ids.slice(0, i)));
        await new Promise((done) => setTimeout(done, BURST_LATE_MS));
        starts.push(peers[BURST]!.call('startAndConnect', ids[BURST]!, peerServer.port, ids.slice(0, BURST)));
        await Promise.all(starts);
        await withTimeout(Promise.all(peers.map((peer) => peer.call('whenOpen', BURST))), 60_000);
        perf?.end('PeerJS');
        if (traced) await browser.stopTracing();
        const timings = await Promise.all(peers.map((peer) => peer.call('timings')));
        const start = Math.min(...(await Promise.all(peers.map((peer) => peer.call('startedAt')))));
        if (BURST_PROFILE) {
          console.log(`PeerJS round ${round}, threads until all open: ${describeThreadCpu(theirThreadsAtStart!, threadCpuMs(process.pid, servers.map((s) => s.pid)))}`);
          console.log(`PeerJS round ${round}, peer ${PROFILED}'s main thread: ${await theirProbes[PROFILED]!.stopProfile(PROFILE_DIR && `${PROFILE_DIR}/peerjs-${round}.cpuprofile`)}\n${await describeProbes('PeerJS', theirProbes)}`);
          await Promise.all(theirProbes.map((p) => p.detach()));
          console.log(`PeerJS round ${round}: peer ${PROFILED}'s candidates (getStats): ${countCandidates(await peers[PROFILED]!.call('traceStats'))}`);
          console.log(`PeerJS round ${round}: WebRTC events, all peers: ${countTraceEvents((await Promise.all(peers.map((peer) => peer.call('takeTrace')))).flat())}`);
        }
        if (BURST_TIMELINE) {
          const cpu = process.cpuUsage(theirProcessCpu);
          const serverLoad = await peerServer.request<ServerLoad>('monitor-stop');
          console.log(`PeerJS round ${round}: browser CPU ${(browserCpuMs(servers) - theirCpuAtStart).toFixed(0)} ms until all open; bench process (Playwright) CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms; ${describeLoad('PeerServer process', serverLoad, start)}`);
          const registered = await Promise.all(peers.map((peer) => peer.call('registeredAt')));
          const started = await Promise.all(peers.map((peer) => peer.call('startedAt')));
          console.log(`PeerJS round ${round} (ms after the first start): ${peers.map((_, i) => `${i === BURST ? 'late' : i}: start ${(started[i]! - start).toFixed(0)}, OPEN ${(registered[i]! - start).toFixed(0)}, links open ${Math.min(...timings[i]!.map((c) => c.open!)) - start | 0}-${Math.max(...timings[i]!.map((c) => c.open!)) - start | 0}`).join('; ')}`);
        }
        theirBurstMesh.push(Math.max(...timings.flat().map((c) => c.open!)) - start);
        // Each connection appears on both sides under one id: connect() on the caller, open on both.
        const byId = new Map<string, { connect?: number; open: number }>();
        for (const c of timings.flat()) {
          const seen = byId.get(c.id);
          byId.set(c.id, { connect: seen?.connect ?? c.connect, open: Math.max(seen?.open ?? 0, c.open!) });
        }
        for (const c of byId.values()) theirBurstLinks.push(c.open - c.connect!);
        await Promise.all(peers.map((peer) => peer.close()));
      }
    }
    if (perf) console.log(await perf.stop());
    if (!ONLY_THROUGHPUT) {
      console.log(`burst: all ${((BURST + 1) * BURST) / 2} links open after ours ${burstMesh.map((t) => t.toFixed(0)).join(', ')} ms (every pair known after ${burstKnown.map((t) => t.toFixed(0)).join(', ')} ms), PeerJS ${theirBurstMesh.map((t) => t.toFixed(0)).join(', ')} ms; link p50/p95 ours ${percentile(burstLinks, 50).toFixed(0)}/${percentile(burstLinks, 95).toFixed(0)} ms, PeerJS ${percentile(theirBurstLinks, 50).toFixed(0)}/${percentile(theirBurstLinks, 95).toFixed(0)} ms`);
      recordResult('peerjs_burst_setup', median(burstMesh), median(theirBurstMesh), `ms to all ${((BURST + 1) * BURST) / 2} links open, ${BURST} consoles joining at once + 1 (baseline: PeerJS)`, { ratio: 'baseline/ours', higherIsBetter: true, interval: bootstrapInterval(burstMesh, theirBurstMesh, (o, t) => median(t) / median(o)) });
      recordResult('peerjs_burst_setup_p95', percentile(burstLinks, 95), percentile(theirBurstLinks, 95), 'ms, 95th percentile of the burst\'s links (baseline: PeerJS)', { ratio: 'baseline/ours', higherIsBetter: true });
    }

    if (ONLY_BURST) return;
    // --- 64 MiB through one link -----------------------------------------------------------------
    const throughput: number[] = [];
    const theirThroughput: number[] = [];
    const fast = { raw: [] as number[], msgpack: [] as number[] };
    /** PeerJS's chunked modes: 64 MiB as many messages, reassembled and hashed by the receiver. */
    const theirChunked = async (mode: 'raw' | 'msgpack') => {
      const [s, r] = await pjPair(mode === 'msgpack' ? 'msgpack' : 'default');
      const connectionId = await s!.call('connect', `bench-q-${serial}`, mode === 'msgpack' ? 'MsgPack' : 'raw');
      await waitFor(async () => (await s!.call('timing', connectionId)).open !== undefined && (await r!.call('timing', connectionId)).open !== undefined);
      await r!.call('expect', BULK_BYTES);
      const { hash, startedAt } = await s!.call('sendChunked', connectionId, BULK_BYTES, mode === 'msgpack' ? MSGPACK_CHUNK : RAW_CHUNK);
      await waitFor(async () => (await r!.call('received')).hash === hash, 120_000, 250);
      const { at } = await r!.call('received');
      fast[mode].push(BULK_BYTES / 1024 ** 2 / ((at - startedAt) / 1000));
      await Promise.all([s!.close(), r!.close()]);
    };
    for (let round = 0; round < ROUNDS; round++) {
      {
        const [c, d] = await Promise.all([0, 1].map(() => HarnessConsole.open(browser, registryUrl)));
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
      await theirChunked('raw');
      await theirChunked('msgpack');
    }
    console.log(`throughput: ours ${throughput.map((t) => t.toFixed(2)).join(', ')} MiB/s; PeerJS binary ${theirThroughput.map((t) => t.toFixed(2)).join(', ')}, raw ${fast.raw.map((t) => t.toFixed(2)).join(', ')}, MsgPack ${fast.msgpack.map((t) => t.toFixed(2)).join(', ')} MiB/s`);
    recordResult('peerjs_datachannel_throughput', median(throughput), median(theirThroughput), "MiB/s (baseline: PeerJS, 'binary' serialization)", { ratio: 'ours/baseline', higherIsBetter: true });
    // PeerJS's fastest mode in this run, by median; the rounds ran side by side, so the interval pairs them.
    const fastest = median(fast.raw) >= median(fast.msgpack) ? 'raw' : 'msgpack';
    recordResult('peerjs_fast_throughput', median(throughput), median(fast[fastest]), `MiB/s (baseline: PeerJS's fastest mode in this run, ${fastest === 'raw' ? "'raw', 64 KiB messages" : 'MessagePack stream, 256 KiB messages'})`, {
      ratio: 'ours/baseline',
      higherIsBetter: true,
      interval: bootstrapInterval(throughput, fast[fastest], (o, t) => median(o) / median(t)),
    });
  } finally {
    await browser.close();
    await Promise.all(servers.map(stopServer));
    pages.server.close();
    await leaveCpuGroup();
  }
}, 900_000);
