/**
 * One CPU scheduling group for a benchmark and everything it starts afterwards (its server
 * processes, the browser), where the kernel would otherwise split them. With sched autogroup on
 * (/proc/sys/kernel/sched_autogroup_enabled, Debian's default), the scheduler shares the CPU
 * between sessions before it shares it between their tasks, and Playwright starts Chromium in a
 * session of its own (setsid): the browser's renderers were one group and the bench process with
 * both servers another. In the burst on a 2-core VM (Linux 6.18) the renderers' group then held
 * both cores for up to 1.8 s while the servers were ready to run (docs/BENCHMARKS.md, "Burst:
 * where the servers' stalls came from"). A task in a cgroup other than the root is outside
 * autogroup, so one cpu cgroup for this process, made before it starts anything, puts them all
 * back to competing task by task at the priority each asked for, as on a machine without
 * autogroup. Needs root and a cpu controller to write to (cgroup v1's cpu hierarchy, or v2 with
 * cpu enabled); otherwise changes nothing and says why.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where this process's cpu cgroup is: the cpu controller's mount and this process's path in it. */
function cpuCgroup(): { dir: string } | { skip: string } {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  // cgroup v1: "N:cpu,cpuacct:/path" (or "N:cpu:/path"), the controller mounted at /sys/fs/cgroup/cpu[,cpuacct].
  const v1 = lines.map((l) => l.split(':')).find(([, controllers]) => controllers!.split(',').includes('cpu'));
  if (v1) {
    const mount = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'].find((m) => existsSync(join(m, 'cpu.shares')));
    return mount ? { dir: join(mount, v1[2]!) } : { skip: 'no cgroup v1 cpu mount found' };
  }
  // cgroup v2: "0::/path"; a child only has its own cpu group if the parent delegates the controller.
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (!v2) return { skip: 'no cpu cgroup' };
  const dir = join('/sys/fs/cgroup', v2.slice(3));
  return readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').split(' ').map((c) => c.trim()).includes('cpu') ? { dir } : { skip: 'cgroup v2 without the cpu controller delegated' };
}

/**
 * Moves this process into a new cpu cgroup below its own, if autogroup would otherwise split what
 * it starts; returns the way back (after everything it started has exited). BENCH_SCHED_GROUP=0
 * leaves the process where it is (the harness before 2026-12-07, for comparisons).
 */
export function joinOwnCpuGroup(name: string): () => Promise<void> {
  const noop = async () => undefined;
  if (process.env.BENCH_SCHED_GROUP === '0') return noop;
  if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() !== '1') return noop;
  let found: ReturnType<typeof cpuCgroup>;
  try {
    found = cpuCgroup();
  } catch (error) {
    found = { skip: (error as Error).message };
  }
  const home = 'dir' in found ? found.dir : undefined;
  const dir = home && join(home, `${name}-${process.pid}`);
  try {
    if (!home || !dir) throw new Error('skip' in found ? found.skip : 'no cpu cgroup');
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
    } catch (error) {
      rmdirSync(dir);
      throw error;
    }
  } catch (error) {
    console.warn(`sched autogroup is on and this benchmark could not leave it (${(error as Error).message}): the browser and its servers are scheduled as separate groups`);
    return noop;
  }
  return async () => {
    writeFileSync(join(home, 'cgroup.procs'), String(process.pid));
    // The browser's last processes may take a moment to go: the group is only removable empty.
    for (let attempt = 0; ; attempt++) {
      try {
        return rmdirSync(dir);
      } catch (error) {
        if (attempt === 20) return console.warn(`could not remove the cpu cgroup ${dir}: ${(error as Error).message}`);
        await new Promise((done) => setTimeout(done, 100));
      }
    }
  };
}
