/**
 * BENCH_BURST_PERF=1 (bench/peerjs.bench.ts's burst, as root with Linux `perf`): where each
 * system's CPU went during its rounds, by process, thread and JavaScript function, counting only
 * time on a core. The pages' CDP profiles (BENCH_BURST_PROFILE) sample wall time, and in the burst
 * the pages' main threads wait for a core most of the round, so a function's share there is its
 * wait as much as its work; `perf` samples what runs.
 *
 * How: `perf record -a -g -k mono` for the whole burst, the pages launched with V8's
 * `--perf-basic-prof` (each renderer writes /tmp/perf-PID.map, naming its JIT code) and
 * `--interpreted-frames-native-stack` (interpreted functions get frames of their own). Each timed
 * window is marked with process.hrtime (CLOCK_MONOTONIC, perf's `-k mono` clock), so a sample falls
 * in one system's round or in neither. A renderer main thread's sample counts for every JavaScript
 * function on its stack (inclusive), so Chromium's own code, which has no symbols in Debian's
 * build, is charged to the JavaScript that called it; a sample with none is Chromium's own task.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BURST_PERF = process.env.BENCH_BURST_PERF === '1';
/** The pages' V8 flags that let perf name JavaScript frames. */
export const PERF_JS_FLAGS = '--perf-basic-prof --interpreted-frames-native-stack';

const SAMPLE_HZ = 499;

interface Window {
  system: string;
  start: number; // seconds, CLOCK_MONOTONIC
  end: number;
}

interface Tally {
  rounds: number;
  byThread: Map<string, number>;
  /** Renderer main threads: samples by every distinct JavaScript function on the stack. */
  inclusive: Map<string, number>;
  /** Renderer main threads: samples with no JavaScript on the stack (tasks of Chromium's own). */
  noJs: number;
  mainThread: number;
}

const add = (map: Map<string, number>, key: string, n = 1) => map.set(key, (map.get(key) ?? 0) + n);

export class BurstPerf {
  private readonly windows: Window[] = [];
  private readonly open = new Map<string, number>();

  private constructor(
    private readonly perf: ChildProcess,
    private readonly dir: string,
    private readonly startedAt: number,
    private readonly names: Map<number, string>,
  ) {}

  /** Starts `perf record` over every CPU; resolves once it is sampling. `names`: processes to label by pid (the servers). */
  static async start(names: Record<number, string>): Promise<BurstPerf> {
    const dir = mkdtempSync(join(tmpdir(), 'wsp-burst-perf-'));
    const perf = spawn('perf', ['record', '-F', String(SAMPLE_HZ), '-a', '-g', '-k', 'mono', '-o', join(dir, 'perf.data')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((ready, fail) => {
      perf.once('error', fail);
      perf.once('exit', (code) => fail(new Error(`perf record exited (${code}): is perf installed, and are we root?`)));
      setTimeout(ready, 1000);
    });
    perf.removeAllListeners('exit');
    // A bench that fails midway must not leave perf recording every CPU.
    process.once('exit', () => perf.kill('SIGINT'));
    return new BurstPerf(perf, dir, Date.now(), new Map([[process.pid, 'bench (Playwright)'], ...Object.entries(names).map(([pid, name]) => [Number(pid), name] as const)]));
  }

  begin(system: string): void {
    this.open.set(system, Number(process.hrtime.bigint()) / 1e9);
  }

  end(system: string): void {
    this.windows.push({ system, start: this.open.get(system)!, end: Number(process.hrtime.bigint()) / 1e9 });
  }

  /** Stops recording and returns the report: per system, CPU ms per round. */
  async stop(top = 40): Promise<string> {
    const exited = new Promise((done) => this.perf.once('exit', done));
    this.perf.kill('SIGINT');
    await exited;
    const renderers = new Set(
      readdirSync('/tmp')
        .filter((f) => /^perf-\d+\.map$/.test(f) && statSync(join('/tmp', f)).mtimeMs >= this.startedAt - 1000)
        .map((f) => Number(f.slice(5, -4))),
    );
    const tallies = new Map<string, Tally>();
    for (const w of this.windows) {
      const t = tallies.get(w.system) ?? { rounds: 0, byThread: new Map(), inclusive: new Map(), noJs: 0, mainThread: 0 };
      t.rounds++;
      tallies.set(w.system, t);
    }
    const script = spawn('perf', ['script', '-i', join(this.dir, 'perf.data'), '-F', 'comm,pid,tid,time,ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const header = /^(.*?)\s+(\d+)\/(\d+)\s+([\d.]+):/;
    let sample: { comm: string; pid: number; tid: number; time: number; frames: string[] } | undefined;
    const finish = () => {
      if (!sample) return;
      const w = this.windows.find((x) => sample!.time >= x.start && sample!.time <= x.end);
      if (w) this.count(tallies.get(w.system)!, sample, renderers);
      sample = undefined;
    };
    for await (const line of createInterface({ input: script.stdout! })) {
      if (line.trim() === '') finish();
      else if (!/^\s/.test(line)) {
        finish();
        const m = header.exec(line);
        if (m) sample = { comm: m[1]!.trim(), pid: Number(m[2]), tid: Number(m[3]), time: Number(m[4]), frames: [] };
      } else if (sample) sample.frames.push(line.trim().replace(/^[0-9a-f]+ /, ''));
    }
    finish();
    for (const f of readdirSync('/tmp')) if (/^perf-\d+\.map$/.test(f) && renderers.has(Number(f.slice(5, -4)))) rmSync(join('/tmp', f), { force: true });
    rmSync(this.dir, { recursive: true, force: true });
    return [...tallies].map(([system, t]) => describe(system, t, top)).join('\n');
  }

  private count(t: Tally, s: { comm: string; pid: number; tid: number; frames: string[] }, renderers: Set<number>): void {
    const renderer = renderers.has(s.pid);
    const name = renderer ? 'renderer' : (this.names.get(s.pid) ?? s.comm);
    const thread = `${name} ${s.pid === s.tid ? 'main' : s.comm}`;
    add(t.byThread, thread);
    if (!renderer || s.pid !== s.tid) return;
    t.mainThread++;
    // "JS:~name url:line:col" (~ interpreted, ^ Sparkplug, + Maglev, * TurboFan): the name alone.
    const functions = new Set(s.frames.filter((f) => f.startsWith('JS:')).map((f) => f.replace(/^JS:[~^+*']*/, '').replace(/ \(.*\)$/, '').replace(/ https?:\S+$/, '') || '(anonymous)'));
    if (functions.size === 0) t.noJs++;
    for (const f of functions) add(t.inclusive, f);
  }
}

function describe(system: string, t: Tally, top: number): string {
  const ms = (samples: number) => ((samples * 1000) / SAMPLE_HZ / t.rounds).toFixed(0);
  const threads = [...t.byThread].sort((a, b) => b[1] - a[1]).filter(([, n]) => n * 1000 / SAMPLE_HZ / t.rounds >= 5);
  const functions = [...t.inclusive].sort((a, b) => b[1] - a[1]).slice(0, top);
  return (
    `${system}, on-CPU ms per round (${t.rounds} rounds, perf at ${SAMPLE_HZ} Hz): ${threads.map(([k, n]) => `${k} ${ms(n)}`).join(', ')}\n` +
    `  pages' main threads ${ms(t.mainThread)}: no JavaScript on the stack ${ms(t.noJs)}; by JavaScript function, inclusive: ${functions.map(([k, n]) => `${k} ${ms(n)}`).join(', ')}`
  );
}
