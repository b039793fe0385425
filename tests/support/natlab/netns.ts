/**
 * Low-level helpers for the NAT lab: run commands in network namespaces, and remove lab
 * namespaces (and every process still inside them) — also ones a crashed run left behind.
 *
 * Every lab namespace is named `wsplab-<pid>-<role>`, where <pid> is the process that built it;
 * a namespace whose owner is gone is stale and is removed by the next run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';

export const LAB_PREFIX = 'wsplab-';

/** Runs a command and returns its stdout; throws with stderr on failure. */
export function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** Runs a command inside network namespace `ns`. */
export function inNs(ns: string, command: string, ...args: string[]): string {
  return run('ip', ['netns', 'exec', ns, command, ...args]);
}

/** What the lab needs, or why it cannot run here (reported as the skip reason). */
export function labUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'the NAT lab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the NAT lab needs root (ip netns, iptables); CI runs as root';
  for (const tool of ['ip', 'iptables']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `the NAT lab needs ${tool} (apt-get install -y ${tool === 'ip' ? 'iproute2' : tool})`;
  }
  const probe = `${LAB_PREFIX}probe-${process.pid}`;
  try {
    run('ip', ['netns', 'add', probe]);
    inNs(probe, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'lo', '-j', 'MASQUERADE', '--random-fully');
  } catch (error) {
    return `network namespaces or iptables NAT do not work here: ${(error as Error).message}`;
  } finally {
    spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  }
  return undefined;
}

export function labNamespaces(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!.trim())
    .filter((name) => name.startsWith(LAB_PREFIX));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills every process in the namespace, then deletes it and its /etc/netns folder. Synchronous: safe in exit handlers. */
export function removeNamespace(ns: string): void {
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').map(Number).filter((pid) => pid > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

/**
 * Removes lab namespaces whose owning process is gone (a crashed or killed run), or all of
 * `owner`'s. Returns what it removed.
 */
export function removeLabNamespaces(owner?: number): string[] {
  const removed: string[] = [];
  const names = new Set(labNamespaces());
  // /etc/netns folders can outlive their namespace if a run died between the two deletions.
  if (existsSync('/etc/netns')) for (const name of readdirSync('/etc/netns')) if (name.startsWith(LAB_PREFIX)) names.add(name);
  for (const ns of names) {
    const pid = Number(/^wsplab-(?:probe-)?(\d+)-?/.exec(ns)?.[1]);
    const stale = owner === undefined ? !(pid > 0 && alive(pid)) : pid === owner;
    if (!stale) continue;
    removeNamespace(ns);
    removed.push(ns);
  }
  try {
    if (removed.length) rmdirSync('/etc/netns'); // only if empty: it may hold others' folders
  } catch {
    // not empty, or not there
  }
  return removed;
}
