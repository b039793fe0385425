/**
 * BENCH_BURST_PROFILE=1 (bench/peerjs.bench.ts's burst): what one page's main thread did during
 * a round (a CDP CPU profile: busy time, and where it went), and for every page the WebSocket
 * frames it sent and received and the RTCPeerConnections alive at the end. Both systems' pages are
 * probed alike, so the probe's own cost falls on both.
 */
import type { CDPSession, Page } from '@playwright/test';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export const BURST_PROFILE = process.env.BENCH_BURST_PROFILE === '1';
/** BENCH_BURST_PROFILE_DIR: also writes each profile there (`.cpuprofile`, for DevTools or scripts). */
export const PROFILE_DIR = process.env.BENCH_BURST_PROFILE_DIR;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export class PageProbe {
  framesOut = 0;
  readonly typesOut = new Map<string, number>();
  framesIn = 0;
  bytesOut = 0;
  bytesIn = 0;
  private constructor(
    private readonly page: Page,
    private readonly cdp: CDPSession,
  ) {}

  static async attach(page: Page): Promise<PageProbe> {
    const cdp = await page.context().newCDPSession(page);
    const probe = new PageProbe(page, cdp);
    cdp.on('Network.webSocketFrameSent', (e: { response: { opcode: number; payloadData: string } }) => {
      probe.framesOut++;
      // PeerJS's frames are JSON with a type; ours are binary (counted by the harness instead).
      const type = e.response.opcode === 1 ? /"type":"([A-Z_]+)"/.exec(e.response.payloadData)?.[1] : undefined;
      if (type) probe.typesOut.set(type, (probe.typesOut.get(type) ?? 0) + 1);
      probe.bytesOut += e.response.payloadData.length;
    });
    cdp.on('Network.webSocketFrameReceived', (e: { response: { payloadData: string } }) => {
      probe.framesIn++;
      probe.bytesIn += e.response.payloadData.length;
    });
    await cdp.send('Network.enable');
    return probe;
  }

  async startProfile(): Promise<void> {
    await this.cdp.send('Profiler.enable');
    await this.cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await this.cdp.send('Profiler.start');
  }

  /** The profile since startProfile, summed: busy ms, GC ms, and the top self-time functions. */
  async stopProfile(saveAs?: string): Promise<string> {
    const { profile } = (await this.cdp.send('Profiler.stop')) as unknown as { profile: Profile };
    if (saveAs) writeFileSync(saveAs, JSON.stringify(profile));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
    const byName = new Map<string, number>();
    let idle = 0;
    let gc = 0;
    let program = 0;
    let total = 0;
    for (const [id, ms] of self) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      total += ms;
      if (functionName === '(idle)') idle += ms;
      else if (functionName === '(garbage collector)') gc += ms;
      else if (functionName === '(program)') program += ms;
      else {
        const name = `${functionName || '(anonymous)'} ${url.split('/').pop() ?? ''}:${lineNumber + 1}`;
        byName.set(name, (byName.get(name) ?? 0) + ms);
      }
    }
    const js = total - idle - gc - program;
    const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 14);
    return (
      `profile ${total.toFixed(0)} ms: busy ${(total - idle).toFixed(0)} ms (JS ${js.toFixed(0)}, GC ${gc.toFixed(0)}, program ${program.toFixed(0)}), idle ${idle.toFixed(0)}\n` +
      top.map(([name, ms]) => `    ${ms.toFixed(1).padStart(7)} ms  ${name}`).join('\n')
    );
  }

  /** RTCPeerConnections alive in the page (after a GC): all, not closed, connected. */
  async peerConnections(): Promise<{ all: number; notClosed: number; connected: number }> {
    const proto = (await this.cdp.send('Runtime.evaluate', { expression: 'RTCPeerConnection.prototype' })) as { result: { objectId: string } };
    const found = (await this.cdp.send('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId })) as { objects: { objectId: string } };
    const { result } = (await this.cdp.send('Runtime.callFunctionOn', {
      objectId: found.objects.objectId,
      functionDeclaration: 'function () { return { all: this.length, notClosed: this.filter((p) => p.signalingState !== "closed").length, connected: this.filter((p) => p.connectionState === "connected").length }; }',
      returnByValue: true,
    })) as { result: { value: { all: number; notClosed: number; connected: number } } };
    return result.value;
  }

  async detach(): Promise<void> {
    await this.cdp.detach().catch(() => undefined);
    void this.page;
  }
}

/** One line per system: frames and connections summed over its pages. */
export async function describeProbes(name: string, probes: PageProbe[]): Promise<string> {
  const pcs = await Promise.all(probes.map((p) => p.peerConnections()));
  const sum = (f: (p: PageProbe) => number) => probes.reduce((s, p) => s + f(p), 0);
  const types = new Map<string, number>();
  for (const p of probes) for (const [t, n] of p.typesOut) types.set(t, (types.get(t) ?? 0) + n);
  return (
    `${name}: WebSocket frames out ${sum((p) => p.framesOut)} (${(sum((p) => p.bytesOut) / 1024).toFixed(0)} KiB), in ${sum((p) => p.framesIn)} (${(sum((p) => p.bytesIn) / 1024).toFixed(0)} KiB) over ${probes.length} pages; ` +
    (types.size ? `text frames sent by type: ${[...types].map(([t, n]) => `${t} ${n}`).join(', ')}; ` : '') +
    `RTCPeerConnections per page all/not closed/connected: ${pcs.map((c) => `${c.all}/${c.notClosed}/${c.connected}`).join(' ')}`
  );
}

/** A thread kind's time in a round: on a core, waiting in the run queue for one, and how often it was preempted. */
export interface ThreadTime {
  cpu: number;
  /** Runnable but not running (/proc/…/schedstat): the wait for a core. */
  wait: number;
  /** Involuntary context switches (/proc/…/status). */
  preempted: number;
  /** Threads of this kind at the reading. */
  threads: number;
}

/**
 * CPU time (ms) of every thread of `root`'s descendants (but `exclude`), by process type (the
 * Chromium `--type=`) and thread name: which threads a round's CPU went to; with each kind's wait
 * for a core, which a CDP CPU profile (wall-clock samples) cannot tell from work.
 */
export function threadCpuMs(root: number, exclude: number[]): Map<string, ThreadTime> {
  const tick = 1000 / 100; // USER_HZ
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined; // gone meanwhile
    }
  };
  const parents = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const text = read(`/proc/${d}/stat`);
    if (text) parents.set(Number(d), Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const skip = new Set(exclude);
  const inTree = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === root) return true;
    return false;
  };
  const out = new Map<string, ThreadTime>();
  for (const pid of parents.keys()) {
    if (skip.has(pid) || !inTree(pid)) continue;
    const cmdline = read(`/proc/${pid}/cmdline`) ?? '';
    // A renderer with --top-chrome-webui draws the browser's own UI (the omnibox popup, one per window: each context), not a page.
    const type = /--type=([a-z-]+)/.exec(cmdline)?.[1];
    const kind = type === 'renderer' && cmdline.includes('--top-chrome-webui') ? 'webui' : (type ?? (cmdline.includes('chrom') ? 'browser' : (cmdline.split('\0')[0]?.split('/').pop() ?? '?')));
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const text = read(`/proc/${pid}/task/${tid}/stat`);
      if (!text) continue;
      const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')).replace(/\d+/g, 'N');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const waitNs = Number(read(`/proc/${pid}/task/${tid}/schedstat`)?.split(' ')[1] ?? 0);
      const preempted = Number(/nonvoluntary_ctxt_switches:\s*(\d+)/.exec(read(`/proc/${pid}/task/${tid}/status`) ?? '')?.[1] ?? 0);
      const key = `${kind}:${name}`;
      const sum = out.get(key) ?? { cpu: 0, wait: 0, preempted: 0, threads: 0 };
      sum.threads++;
      sum.cpu += (Number(fields[11]) + Number(fields[12])) * tick;
      sum.wait += waitNs / 1e6;
      sum.preempted += preempted;
      out.set(key, sum);
    }
  }
  return out;
}

/** The CPU per thread kind used between two `threadCpuMs` readings, largest first, and the wait for a core (cpu/wait ms, preemptions). */
export function describeThreadCpu(before: Map<string, ThreadTime>, after: Map<string, ThreadTime>, top = 14): string {
  const used = [...after]
    .map(([k, v]) => {
      const b = before.get(k) ?? { cpu: 0, wait: 0, preempted: 0, threads: 0 };
      return [k, { cpu: v.cpu - b.cpu, wait: v.wait - b.wait, preempted: v.preempted - b.preempted, threads: v.threads }] as const;
    })
    .filter(([, v]) => v.cpu > 0 || v.wait > 1);
  const total = used.reduce((s, [, v]) => s + v.cpu, 0);
  const waited = used.reduce((s, [, v]) => s + v.wait, 0);
  return (
    `${total.toFixed(0)} ms of CPU, ${waited.toFixed(0)} ms waiting for a core (cpu/wait ms, preemptions, threads): ` +
    used
      .sort((a, b) => b[1].cpu - a[1].cpu)
      .slice(0, top)
      .map(([k, v]) => `${k} ${v.cpu.toFixed(0)}/${v.wait.toFixed(0)} (${v.preempted}, ${v.threads})`)
      .join(', ')
  );
}

/** A setup trace's (tests/support/rtc-trace.ts) candidate and connection events, counted. */
export function countTraceEvents(events: Array<{ ev: string }>): string {
  const counts = new Map<string, number>();
  for (const { ev } of events) if (/^(cand\.|addCand|pc\.new)/.test(ev) && !ev.endsWith('.done')) counts.set(ev, (counts.get(ev) ?? 0) + 1);
  return [...counts].sort().map(([ev, n]) => `${ev} ${n}`).join(', ');
}

/** A page's candidates by side, type and protocol (the setup trace's getStats of its open connections), summed over them. */
export function countCandidates(stats: Array<{ candidates: string[] }>): string {
  const counts = new Map<string, number>();
  for (const { candidates } of stats) for (const c of candidates) {
    const key = c.split(' ').slice(0, 3).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return `${stats.length} connections: ` + [...counts].sort().map(([k, n]) => `${k} ${n}`).join(', ');
}
