/**
 * How cost grows with the project: N web consoles (the link harness: the console's real engine in
 * Chromium, one browser context each) join one project at once, on a registry with the product's
 * default limits, for N = 2, 5, 10, 20 (2 and 5 with --quick). Per N, each figure's baseline is
 * the same figure at N = 2 in the same run (ratio = N / 2's), so the ratios are the curve:
 *   mesh_linked_ms_nN          the first join call → all N(N−1)/2 links open on both sides (median
 *                              of rounds)
 *   mesh_idle_cpu_per_console_nN  CPU of the whole browser (every process: renderers, network
 *                              service, GPU, browser; Chromium's SystemInfo.getProcessInfo) over
 *                              IDLE_MS once the mesh is linked and settled, per console, in % of
 *                              one core: what N − 1 idle links cost a console (keepalives, SCTP
 *                              heartbeats, presence)
 *   mesh_pss_mib_per_console_nN   the renderers' proportional set size (/proc/PID/smaps_rollup),
 *                              summed and divided by N, at the same moment
 *   mesh_registry_frames_per_join_nN  frames the registry received and sent while the mesh formed
 *                              (its /metrics, wsp_registry_frames_total), divided by N
 * Loopback host candidates only, no STUN or TURN.
 */
import { it } from 'vitest';
import { chromium, type Browser, type CDPSession } from '@playwright/test';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../src-main/registry/registry';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../tests/support/harness';
import { bootstrapInterval, median, recordResult } from './stats';

const QUICK = process.env.BENCH_QUICK === '1';
const SIZES = process.env.BENCH_MESH_SIZES ? process.env.BENCH_MESH_SIZES.split(',').map(Number) : QUICK ? [2, 5] : [2, 5, 10, 20];
const ROUNDS = Number(process.env.BENCH_MESH_ROUNDS ?? (QUICK ? 1 : 3));
const SETTLE_MS = Number(process.env.BENCH_MESH_SETTLE_MS ?? 2000);
const IDLE_MS = Number(process.env.BENCH_MESH_IDLE_MS ?? (QUICK ? 3000 : 5000));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, pollMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((done) => setTimeout(done, pollMs));
  }
}

/** Frames received and sent by the registry so far (its Prometheus counter, both directions). */
async function registryFrames(registry: RegistryHandle): Promise<number> {
  const text = await (await fetch(`${registry.httpUrl}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^wsp_registry_frames_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)) total += Number(match[1]);
  return total;
}

interface ProcessInfo {
  type: string;
  id: number;
  cpuTime: number;
}

async function processes(session: CDPSession): Promise<ProcessInfo[]> {
  return ((await session.send('SystemInfo.getProcessInfo')) as unknown as { processInfo: ProcessInfo[] }).processInfo;
}

function pssMiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0; // the process ended (a closed context's renderer)
  }
}

interface Sample {
  linkedMs: number;
  cpuPercent: number;
  pssMiB: number;
  framesPerJoin: number;
}

async function meshRound(browser: Browser, session: CDPSession, registry: RegistryHandle, n: number, round: number): Promise<Sample> {
  const consoles = await Promise.all(Array.from({ length: n }, () => HarnessConsole.open(browser, registry.httpUrl)));
  try {
    const { link } = await registry.createInvite({ project: `mesh-${n}-${round}`, ttlMs: 3_600_000 });
    const framesBefore = await registryFrames(registry);
    const ids = await Promise.all(consoles.map((c, i) => c.join(link, `mesh ${i}`)));
    const read = () => Promise.all(consoles.map((c) => c.call('timings')));
    await waitFor(async () => (await read()).every((t, i) => ids.every((id, j) => j === i || t.links[id]?.open !== undefined)), 120_000, 100);
    const timings = await read();
    const start = Math.min(...timings.map((t) => t.joinCalledAt));
    const linkedMs = Math.max(...timings.flatMap((t) => ids.filter((id) => t.links[id]).map((id) => t.links[id]!.open!))) - start;
    await new Promise((done) => setTimeout(done, SETTLE_MS));
    const framesPerJoin = ((await registryFrames(registry)) - framesBefore) / n;
    const before = await processes(session);
    await new Promise((done) => setTimeout(done, IDLE_MS));
    const after = await processes(session);
    const cpuBefore = new Map(before.map((p) => [p.id, p.cpuTime]));
    const cpuSeconds = after.reduce((sum, p) => sum + p.cpuTime - (cpuBefore.get(p.id) ?? 0), 0);
    const pss = after.filter((p) => p.type === 'renderer').reduce((sum, p) => sum + pssMiB(p.id), 0);
    return { linkedMs, cpuPercent: (cpuSeconds / (IDLE_MS / 1000) / n) * 100, pssMiB: pss / n, framesPerJoin };
  } finally {
    await Promise.all(consoles.map((c) => c.close()));
  }
}

it('mesh', async () => {
  await buildHarness();
  // The product's default limits (64 consoles per project, 50 frames/s per console with a burst of 200).
  const registry = await createRegistry({ webRoot: HARNESS_ROOT, logger: pino({ level: 'silent' }) });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const session = await browser.newBrowserCDPSession();
  const bySize = new Map<number, Sample[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of SIZES) {
        const sample = await meshRound(browser, session, registry, n, round);
        bySize.set(n, [...(bySize.get(n) ?? []), sample]);
        console.log(`mesh of ${n}: linked in ${sample.linkedMs.toFixed(0)} ms; idle ${sample.cpuPercent.toFixed(2)} % of a core and ${sample.pssMiB.toFixed(0)} MiB PSS per console; ${sample.framesPerJoin.toFixed(0)} registry frames per join`);
      }
    }
  } finally {
    await browser.close();
    await registry.close();
  }
  // Each round measured every N in turn, so round i of N and of N = 2 are a pair for the interval.
  const record = (name: string, n: number, key: keyof Sample, unit: string) => {
    const [ours, base] = [bySize.get(n)!.map((s) => s[key]), bySize.get(2)!.map((s) => s[key])];
    recordResult(name, median(ours), median(base), unit, ROUNDS > 1 ? { interval: bootstrapInterval(ours, base, (o, b) => median(o) / median(b)) } : {});
  };
  for (const n of SIZES) {
    record(`mesh_linked_ms_n${n}`, n, 'linkedMs', `ms until ${n} consoles joining at once are fully linked (baseline: N = 2)`);
    record(`mesh_idle_cpu_per_console_n${n}`, n, 'cpuPercent', `% of a core per console, mesh of ${n} idle (baseline: N = 2)`);
    record(`mesh_pss_mib_per_console_n${n}`, n, 'pssMiB', `MiB PSS per console's renderer, mesh of ${n} (baseline: N = 2)`);
    record(`mesh_registry_frames_per_join_n${n}`, n, 'framesPerJoin', `registry frames (in + out) per join, mesh of ${n} (baseline: N = 2)`);
  }
}, 900_000);
