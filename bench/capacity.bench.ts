/**
 * Registry capacity against the PeerJS server (`peer`), both as their own processes on loopback,
 * under the same load from the same load generator (bench/capacity/load-generator.ts, one child
 * process per server, so neither server's RSS or CPU includes the load):
 *   - concurrent authenticated connections held, 1,000 then 10,000 (500 then 1,000 with --quick),
 *     and the server's resident memory (VmRSS from /proc/PID/status) while it holds them;
 *     ours: each console answers the challenge with an Ed25519 proof and an invite (JWT), 10 per
 *     project; PeerJS: each client opens /peerjs?key&id&token (its whole admission) and sends a
 *     HEARTBEAT every 5 s as the peerjs client does;
 *   - signaling frames relayed per second between connected pairs, every pair busy with a window
 *     of frames in flight each way (closed loop: each frame received is answered with one more):
 *     ours `webrtc_ice_candidate` by to_peer_id, PeerJS `CANDIDATE` by dst, the same payload bytes
 *     (see the load generator). 4 frames in flight (what the registry's write coalescing batches)
 *     and, at the first step, 1 in flight (registry_frames_per_s_1k_w1). Both servers hold their
 *     connections at once and take turns (alternating windows), so drift on this shared machine
 *     hits both alike; medians are reported.
 * Results: registry_frames_per_s_1k / _1k_w1 / _10k (ratio ours / PeerJS), registry_rss_mib_10k
 * (MiB; ratio ours / PeerJS, below 1 = we use less), registry_rss_per_conn_10k (KiB of RSS per
 * connection over the idle process; ratio PeerJS / ours, above 1 = we use less), and
 * registry_cpu_us_per_frame_10k (server CPU per relayed frame, which other work on a shared
 * machine disturbs less than frames/s), and registry_rss_per_conn_10k_same_frames: RSS per
 * connection again, in fresh processes after each server relayed the same number of frames (in
 * the timed windows the faster server relays more, and frames leave socket read buffers behind).
 * Bounded in count and time; loopback only.
 */
import { it } from 'vitest';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bootstrapInterval, median, recordResult } from './stats';
import { bundleForNode } from '../tests/support/registry-cli';
import { startServer, stopServer, type ServerProcess } from './server-process';

const QUICK = process.env.BENCH_QUICK === '1';
const STEPS = QUICK ? [500, 1000] : [1000, 10_000];
const MEASURE_MS = QUICK ? 1000 : 1500;
/** Alternating windows per server and step: the median is reported. */
const ROUNDS = QUICK ? 3 : 5;
/** Frames each server relays before the same-work memory figure (about what PeerJS relays in the timed windows at 10,000). */
const SAME_WORK_FRAMES = QUICK ? 100_000 : 1_000_000;
/** Fresh pairs of processes for it (each admits the connections anew), for an interval. */
const SAME_WORK_SAMPLES = QUICK ? 1 : 3;
const OUT = resolve(__dirname, '../.test-output/capacity');

type Server = ServerProcess;

interface Window {
  perSecond: number;
  serverCpu: number;
  loadCpu: number;
}

function buildScripts(): Promise<void> {
  return bundleForNode(OUT, { 'registry-server': resolve(__dirname, 'capacity/registry-server.ts'), 'load-generator': resolve(__dirname, 'capacity/load-generator.ts') }, 'es');
}

/** BENCH_MEMORY=1: where a server's resident memory is (glibc's heap, other anonymous mappings), for looking into RSS. */
function memoryBreakdown(pid: number): string {
  let heap = 0;
  let anonymous = 0;
  let arenas = 0;
  let count = 0;
  let mapping = '';
  let start = 0n;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      const kib = Number(rss[1]);
      if (mapping === '[heap]') heap += kib;
      else if (mapping === '') {
        anonymous += kib;
        // glibc's per-thread arenas: 64 MiB-aligned reservations, resident as used.
        if (start % (64n << 20n) === 0n && kib > 0) {
          arenas += kib;
          count++;
        }
      }
    } else if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const fields = line.split(/\s+/);
      mapping = fields[5] ?? '';
      start = BigInt(`0x${fields[0]!.split('-')[0]}`);
    }
  }
  return `[heap] ${(heap / 1024).toFixed(1)} MiB, 64 MiB-aligned anonymous (thread arenas) ${(arenas / 1024).toFixed(1)} MiB in ${count}, other anonymous ${((anonymous - arenas) / 1024).toFixed(1)} MiB`;
}

function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kib / 1024;
}

/** One load generator child for one server, driven over IPC. */
async function startLoad(server: Server, kind: 'ours' | 'peerjs', secret?: Uint8Array) {
  const child = fork(resolve(OUT, 'load-generator.mjs'), [], {
    env: { ...process.env, LOAD_KIND: kind, LOAD_PORT: String(server.port), LOAD_SERVER_PID: String(server.pid), LOAD_SECRET: secret ? Buffer.from(secret).toString('hex') : '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<Record<string, unknown>>((done, fail) => {
      const onExit = (code: number | null) => fail(new Error(`${server.name} load generator exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message: Record<string, unknown>) => {
        child.off('exit', onExit);
        if (typeof message.error === 'string') fail(new Error(`${server.name} load: ${message.error}`));
        else done(message);
      });
    });
  await next(); // ready
  const ask = async <T>(message: object): Promise<T> => {
    const reply = next();
    child.send(message);
    return (await reply) as T;
  };
  return {
    connect: (count: number) => ask<{ seconds: number; open: number }>({ cmd: 'connect', count }),
    measure: (ms: number, window?: number) => ask<Window & { open: number }>({ cmd: 'measure', ms, ...(window ? { window } : {}) }),
    relay: (frames: number) => ask<{ seconds: number; relayed: number }>({ cmd: 'relay', frames }),
    stop: () => ask<object>({ cmd: 'stop' }).catch(() => undefined),
    kill: () => child.kill('SIGKILL'),
  };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Server CPU per relayed frame over a step's windows: steadier than frames/s when other work shares the cores. */
function cpuPerFrame(windows: Array<{ perSecond: number; serverCpu: number }>): number {
  return (windows.reduce((sum, w) => sum + w.serverCpu, 0) / windows.reduce((sum, w) => sum + w.perSecond, 0)) * 1e6;
}

/** Both servers, fresh, each with its load generator. */
async function startBoth() {
  const secret = new Uint8Array(randomBytes(32));
  const servers = [
    await startServer('ours', resolve(OUT, 'registry-server.mjs'), { BENCH_SECRET: Buffer.from(secret).toString('hex') }),
    await startServer('PeerJS', resolve(__dirname, 'capacity/peerjs-server.mjs')),
  ] as const;
  const loads = [await startLoad(servers[0], 'ours', secret), await startLoad(servers[1], 'peerjs')] as const;
  const stop = async () => {
    await Promise.all(loads.map((load) => load.stop()));
    loads.forEach((load) => load.kill());
    await Promise.all(servers.map(stopServer));
  };
  return { servers, loads, stop };
}

/** BENCH_MEMORY=1: each server's memory by kind, and V8's own figures (SIGUSR2). */
function showMemory(servers: readonly Server[], when: string): void {
  if (process.env.BENCH_MEMORY !== '1') return;
  for (const s of servers) {
    console.log(`${s.name} ${when}: RSS ${rssMiB(s.pid).toFixed(1)} MiB: ${memoryBreakdown(s.pid)}`);
    s.child.kill('SIGUSR2');
  }
}

/**
 * Memory per connection after the same work: fresh processes hold STEPS' last count and relay the
 * same number of frames each, in alternating halves, each measured 1 s after its own last half.
 * The timed windows of the main run give the faster server more frames to relay (and more socket
 * read buffers to free), which this comparison does not.
 */
async function sameWorkMemory(connections: number, frames: number): Promise<{ perConnection: [number, number]; holdingOnly: [number, number]; seconds: [number, number] }> {
  const { servers, loads, stop } = await startBoth();
  try {
    const idle = servers.map((s) => rssMiB(s.pid));
    for (const load of loads) await load.connect(connections);
    await sleep(1000);
    const held = servers.map((s) => rssMiB(s.pid));
    showMemory(servers, `same work: holding ${connections}`);
    const after = [0, 0];
    const seconds = [0, 0];
    for (let half = 0; half < 2; half++) {
      for (const [i, load] of loads.entries()) {
        seconds[i]! += (await load.relay(frames / 2)).seconds;
        if (half === 1) {
          await sleep(1000);
          after[i] = rssMiB(servers[i]!.pid);
        }
      }
    }
    showMemory(servers, `same work: after ${frames} frames each`);
    const perConnection = servers.map((s, i) => ((Math.max(held[i]!, after[i]!) - idle[i]!) * 1024) / connections);
    const holdingOnly = servers.map((s, i) => ((held[i]! - idle[i]!) * 1024) / connections);
    for (const [i, s] of servers.entries()) {
      console.log(`${s.name}, same work: idle ${idle[i]!.toFixed(0)} MiB, holding ${connections} ${held[i]!.toFixed(0)} MiB (${holdingOnly[i]!.toFixed(1)} KiB per connection), after ${frames} frames (${seconds[i]!.toFixed(1)} s) ${after[i]!.toFixed(0)} MiB: ${perConnection[i]!.toFixed(1)} KiB per connection`);
    }
    return { perConnection: [perConnection[0]!, perConnection[1]!], holdingOnly: [holdingOnly[0]!, holdingOnly[1]!], seconds: [seconds[0]!, seconds[1]!] };
  } finally {
    await stop();
  }
}

it('registry capacity', async () => {
  await buildScripts();
  const { servers, loads, stop } = await startBoth();
  const results: Array<{ connections: number; cpuPerFrame: [number, number]; windows: [number[], number[]]; rss: [number, number]; idle: [number, number] }> = [];
  /** The first step again, 1 frame in flight per direction: each server's windows. */
  let oneInFlight: [Window[], Window[]] = [[], []];
  try {
    const idle = servers.map((s) => rssMiB(s.pid));
    showMemory(servers, 'idle');
    for (const step of STEPS) {
      // Both hold `step` connections; then they take turns relaying.
      for (const [i, load] of loads.entries()) {
        const { seconds, open } = await load.connect(step);
        console.log(`${servers[i]!.name}: ${open} connections admitted (${step} asked) in ${seconds.toFixed(1)} s`);
      }
      await sleep(1000);
      const held = servers.map((s) => rssMiB(s.pid));
      showMemory(servers, `holding ${step}`);
      const windows: Window[][] = [[], []];
      const open = [0, 0];
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, load] of loads.entries()) {
          const w = await load.measure(MEASURE_MS);
          windows[i]!.push(w);
          open[i] = w.open;
        }
      }
      const rss = servers.map((s, i) => Math.max(held[i]!, rssMiB(s.pid)));
      showMemory(servers, `after the windows at ${step}`);
      for (const [i, s] of servers.entries()) {
        if (open[i] !== step) throw new Error(`${s.name}: ${step - open[i]!} connections closed during the benchmark`);
        const w = windows[i]!;
        console.log(
          `${s.name} at ${step}: RSS ${rss[i]!.toFixed(0)} MiB (idle ${idle[i]!.toFixed(0)} MiB: ${(((rss[i]! - idle[i]!) * 1024) / step).toFixed(1)} KiB per connection); ` +
            `frames/s ${w.map((x) => Math.round(x.perSecond)).join(', ')}, ${cpuPerFrame(w).toFixed(1)} µs of server CPU per frame (server CPU ${w.map((x) => `${(x.serverCpu * 100).toFixed(0)}%`).join(', ')}; load generator CPU ${w.map((x) => `${(x.loadCpu * 100).toFixed(0)}%`).join(', ')})`,
        );
      }
      results.push({
        connections: step,
        cpuPerFrame: [cpuPerFrame(windows[0]!), cpuPerFrame(windows[1]!)],
        windows: [windows[0]!.map((x) => x.perSecond), windows[1]!.map((x) => x.perSecond)],
        rss: [rss[0]!, rss[1]!],
        idle: [idle[0]!, idle[1]!],
      });
      if (step === STEPS[0]) {
        // One frame in flight: nothing for write coalescing to batch, each frame a round trip.
        const w1: [Window[], Window[]] = [[], []];
        for (let round = 0; round < ROUNDS; round++) for (const [i, load] of loads.entries()) w1[i]!.push(await load.measure(MEASURE_MS, 1));
        console.log(`1 frame in flight at ${step}: ours ${w1[0].map((x) => Math.round(x.perSecond)).join(', ')}, PeerJS ${w1[1].map((x) => Math.round(x.perSecond)).join(', ')} frames/s; ${cpuPerFrame(w1[0]).toFixed(1)} vs ${cpuPerFrame(w1[1]).toFixed(1)} µs of server CPU per frame`);
        oneInFlight = w1;
        showMemory(servers, `after 1 in flight at ${step}`);
      }
    }
  } finally {
    await stop();
  }
  const sameWork: Array<Awaited<ReturnType<typeof sameWorkMemory>>> = [];
  for (let sample = 0; sample < SAME_WORK_SAMPLES; sample++) sameWork.push(await sameWorkMemory(STEPS[STEPS.length - 1]!, SAME_WORK_FRAMES));
  const [small, large] = STEPS.map((n) => (n >= 1000 ? `${n / 1000}k` : String(n)));
  const note = QUICK ? ` — quick run: ${STEPS[0]} and ${STEPS[1]} connections` : '';
  const [one, ten] = results as [(typeof results)[0], (typeof results)[0]];
  // The windows alternated between the servers, so window i of each is a pair for the interval.
  const framesPerSecond = (name: string, [ours, theirs]: [number[], number[]], unit: string) =>
    recordResult(name, median(ours), median(theirs), unit, { ratio: 'ours/baseline', higherIsBetter: true, interval: bootstrapInterval(ours, theirs, (o, t) => median(o) / median(t)) });
  framesPerSecond('registry_frames_per_s_1k', one.windows, `frames/s at ${small} connections (baseline: PeerJS server)${note}`);
  framesPerSecond('registry_frames_per_s_1k_w1', [oneInFlight[0].map((x) => x.perSecond), oneInFlight[1].map((x) => x.perSecond)], `frames/s at ${small} connections, 1 frame in flight per direction (baseline: PeerJS server)${note}`);
  framesPerSecond('registry_frames_per_s_10k', ten.windows, `frames/s at ${large} connections (baseline: PeerJS server)${note}`);
  recordResult('registry_cpu_us_per_frame_1k_w1', cpuPerFrame(oneInFlight[0]), cpuPerFrame(oneInFlight[1]), `µs of server CPU per relayed frame at ${small} connections, 1 frame in flight (baseline: PeerJS server)${note}`, { ratio: 'ours/baseline', higherIsBetter: false });
  recordResult('registry_cpu_us_per_frame_10k', ten.cpuPerFrame[0], ten.cpuPerFrame[1], `µs of server CPU per relayed frame at ${large} connections (baseline: PeerJS server)${note}`, { ratio: 'ours/baseline', higherIsBetter: false });
  recordResult('registry_rss_mib_10k', ten.rss[0], ten.rss[1], `MiB RSS holding ${large} connections (baseline: PeerJS server)${note}`, { ratio: 'ours/baseline', higherIsBetter: false });
  // What each connection adds: RSS over the idle process (each idle before any connection), per connection.
  const perConnection = (i: 0 | 1) => ((ten.rss[i] - ten.idle[i]) * 1024) / ten.connections;
  recordResult('registry_rss_per_conn_10k', perConnection(0), perConnection(1), `KiB RSS per connection over the idle process at ${large} connections (baseline: PeerJS server)${note}`, { ratio: 'baseline/ours', higherIsBetter: true });
  // Per connection over the idle process, fresh processes: after the same frames, and holding the connections before any frame.
  const sameWorkResult = (name: string, pick: (x: (typeof sameWork)[0]) => [number, number], what: string) => {
    const [ours, theirs] = [sameWork.map((x) => pick(x)[0]), sameWork.map((x) => pick(x)[1])];
    recordResult(name, median(ours), median(theirs), `KiB RSS per connection over the idle process at ${large} connections, ${what}, median of ${SAME_WORK_SAMPLES} fresh pairs of processes (baseline: PeerJS server)${note}`, {
      ratio: 'baseline/ours',
      higherIsBetter: true,
      ...(SAME_WORK_SAMPLES > 1 ? { interval: bootstrapInterval(ours, theirs, (o, t) => median(t) / median(o)) } : {}),
    });
  };
  sameWorkResult('registry_rss_per_conn_10k_same_frames', (x) => x.perConnection, `after relaying the same ${SAME_WORK_FRAMES.toLocaleString('en')} frames each`);
  sameWorkResult('registry_rss_per_conn_10k_no_frames', (x) => x.holdingOnly, 'holding them before any frame');
}, 900_000);
