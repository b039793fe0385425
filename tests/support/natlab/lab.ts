/**
 * The NAT lab: a small Internet in network namespaces (see docs/NATLAB.md).
 *
 *   LAN a (10.0.1.2) ── router a (10.0.1.1 | 198.51.100.11) ─┐
 *                                                          br0 in "public" (198.51.100.1: registry, coturn)
 *   LAN b (10.0.2.2) ── router b (10.0.2.1 | 198.51.100.12) ─┘
 *
 * Routers NAT with iptables MASQUERADE and drop unsolicited inbound traffic; their behaviour is
 * switched per scenario (endpoint-independent or symmetric mapping, UDP blocked, only the registry
 * reachable). One headless Chromium runs inside each LAN namespace (Playwright drives it over
 * pipes, which cross namespaces); the registry and coturn run inside "public" (an agent, scenario 7,
 * runs with `ip netns exec` in a LAN: agent-process.ts). No interface of
 * the lab is connected to the host's network.
 */
import { chromium, type Browser } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CHROMIUM_ARGS, chromiumPath } from '../chromium';
import { LAB_PREFIX, inNs, removeNamespace, run } from './netns';

export const PUBLIC_IP = '198.51.100.1';
export const REGISTRY_PORT = 7420;
export const TURN_PORT = 3478;
const BIN = resolve(__dirname, '../../../bin/wsp-registry.js');

/**
 * How a router treats traffic from its LAN:
 * - `eim`: endpoint-independent mapping (Linux keeps the source port), endpoint-dependent filtering:
 *   a port-restricted cone, the common home router; hole punching works.
 * - `symmetric`: a fresh random port for every destination (`--random-fully`): hole punching fails.
 * - `udp-blocked`: like `eim`, but all UDP from the LAN is dropped (a strict corporate firewall).
 * - `registry-only`: only TCP to the registry's port gets out.
 */
export type NatMode = 'eim' | 'symmetric' | 'udp-blocked' | 'registry-only';

export interface LabSide {
  name: 'a' | 'b';
  routerNs: string;
  lanNs: string;
  lanIp: string;
  wanIp: string;
  browser: Browser;
}

export class NatLab {
  readonly pubNs: string;
  readonly sides: Record<'a' | 'b', LabSide>;
  readonly origin = `http://${PUBLIC_IP}:${REGISTRY_PORT}`;
  readonly turnSecret = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url');
  private readonly dir: string;
  private registry: ChildProcess | undefined;
  private coturn: ChildProcess | undefined;
  private readonly namespaces: string[] = [];
  private destroyed = false;
  private readonly onExit = () => this.destroySync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.destroySync();
    process.kill(process.pid, signal);
  };

  private constructor(readonly webRoot: string) {
    const id = `${LAB_PREFIX}${process.pid}-${Date.now().toString(36).slice(-4)}`;
    this.pubNs = `${id}-pub`;
    this.dir = mkdtempSync(join(tmpdir(), 'wsp-natlab-'));
    const side = (name: 'a' | 'b', n: number): LabSide => ({
      name,
      routerNs: `${id}-r${name}`,
      lanNs: `${id}-l${name}`,
      lanIp: `10.0.${n}.2`,
      wanIp: `198.51.100.${10 + n}`,
      browser: undefined as unknown as Browser,
    });
    this.sides = { a: side('a', 1), b: side('b', 2) };
  }

  /** Builds the namespaces and starts registry, coturn and one Chromium per LAN. */
  static async create(webRoot: string): Promise<NatLab> {
    const lab = new NatLab(webRoot);
    process.once('exit', lab.onExit);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, lab.onSignal);
    try {
      lab.buildNetwork();
      await Promise.all([lab.startRegistry(), lab.startCoturn()]);
      await Promise.all(Object.values(lab.sides).map(async (side) => (side.browser = await lab.launchBrowser(side.lanNs))));
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  // --- topology ----------------------------------------------------------------------------------

  private addNs(ns: string): void {
    run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    // IPv4 only: keeps the candidates (and the NAT rules) to one family.
    inNs(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
  }

  private buildNetwork(): void {
    const pub = this.pubNs;
    this.addNs(pub);
    run('ip', ['-n', pub, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', pub, 'addr', 'add', `${PUBLIC_IP}/24`, 'dev', 'br0']);
    run('ip', ['-n', pub, 'link', 'set', 'br0', 'up']);
    // The rest of the Internet: a default route to a gateway nobody is (a permanent neighbour
    // entry with an unused MAC), where packets vanish. Without one, coturn's sends to a peer's
    // private address fail with ENETUNREACH and coturn closes the whole allocation (seen as a
    // TURN/TCP link flapping); on the real Internet such packets are just lost.
    run('ip', ['-n', pub, 'neigh', 'add', '198.51.100.254', 'lladdr', '02:00:00:00:00:fe', 'dev', 'br0', 'nud', 'permanent']);
    run('ip', ['-n', pub, 'route', 'add', 'default', 'via', '198.51.100.254']);
    for (const side of Object.values(this.sides)) {
      const { routerNs: r, lanNs: l } = side;
      const n = side.name === 'a' ? 1 : 2;
      this.addNs(r);
      this.addNs(l);
      // The router's WAN port plugs into the public bridge; its LAN port into the LAN.
      run('ip', ['link', 'add', 'wan', 'netns', r, 'type', 'veth', 'peer', 'name', `to-r${side.name}`, 'netns', pub]);
      run('ip', ['-n', pub, 'link', 'set', `to-r${side.name}`, 'master', 'br0', 'up']);
      run('ip', ['-n', r, 'addr', 'add', `${side.wanIp}/24`, 'dev', 'wan']);
      run('ip', ['-n', r, 'link', 'set', 'wan', 'up']);
      run('ip', ['-n', r, 'route', 'add', 'default', 'via', PUBLIC_IP]);
      run('ip', ['link', 'add', 'lan', 'netns', r, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', l]);
      run('ip', ['-n', r, 'addr', 'add', `10.0.${n}.1/24`, 'dev', 'lan']);
      run('ip', ['-n', r, 'link', 'set', 'lan', 'up']);
      run('ip', ['-n', l, 'addr', 'add', `${side.lanIp}/24`, 'dev', 'eth0']);
      run('ip', ['-n', l, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', l, 'route', 'add', 'default', 'via', `10.0.${n}.1`]);
      inNs(r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      // `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf: a resolver that answers nothing
      // at once, so Chromium's background lookups fail fast instead of waiting on timeouts.
      mkdirSync(`/etc/netns/${l}`, { recursive: true });
      writeFileSync(`/etc/netns/${l}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
      this.setNat(side.name, 'eim');
    }
  }

  /**
   * (Re)configures a router. Unsolicited inbound traffic is always dropped (INPUT and FORWARD
   * policy DROP, conntrack ESTABLISHED,RELATED accepted): if the router answered it instead,
   * Linux conntrack would record the peer's early probe and then give the LAN's own packet to that
   * peer a different port, so a cone NAT would behave as symmetric.
   */
  setNat(sideName: 'a' | 'b', mode: NatMode): void {
    const r = this.sides[sideName].routerNs;
    const ipt = (...args: string[]) => inNs(r, 'iptables', ...args);
    ipt('-F');
    ipt('-t', 'nat', '-F');
    ipt('-P', 'INPUT', 'DROP');
    ipt('-P', 'FORWARD', 'DROP');
    ipt('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
    ipt('-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    if (mode === 'udp-blocked') ipt('-A', 'FORWARD', '-i', 'lan', '-p', 'udp', '-j', 'DROP');
    if (mode === 'registry-only') ipt('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-p', 'tcp', '-d', PUBLIC_IP, '--dport', String(REGISTRY_PORT), '-j', 'ACCEPT');
    else ipt('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT');
    ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(mode === 'symmetric' ? ['--random-fully'] : []));
  }

  /**
   * A network change as the LAN's consoles see it: the router gets a new public address. The
   * kernel drops every NAT mapping of the old one (MASQUERADE forgets them with the address), so
   * open flows — the DataChannel's and the registry WebSocket's — stop working.
   */
  changePublicAddress(sideName: 'a' | 'b', wanIp: string): void {
    const side = this.sides[sideName];
    run('ip', ['-n', side.routerNs, 'addr', 'del', `${side.wanIp}/24`, 'dev', 'wan']);
    run('ip', ['-n', side.routerNs, 'addr', 'add', `${wanIp}/24`, 'dev', 'wan']);
    side.wanIp = wanIp;
  }

  // --- servers in "public" ---------------------------------------------------------------------

  private spawnInPub(command: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.pubNs, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // NATLAB_LOG_DIR=folder keeps the servers' output there, for diagnosing a failed scenario.
    const logDir = process.env.NATLAB_LOG_DIR;
    if (logDir) {
      mkdirSync(logDir, { recursive: true });
      const log = createWriteStream(join(logDir, `${basename(command)}-${Date.now()}.log`));
      child.stdout!.on('data', (chunk: Buffer) => log.write(chunk));
      child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
    }
    return child;
  }

  /** Starts the registry (again, after killRegistry: same data folder, so invites stay valid). */
  async startRegistry(): Promise<void> {
    const dataDir = join(this.dir, 'registry');
    const turn = (transport: string) => `turn:${PUBLIC_IP}:${TURN_PORT}?transport=${transport}`;
    const child = (this.registry = this.spawnInPub(process.execPath, [
      BIN,
      '--host', PUBLIC_IP,
      '--port', String(REGISTRY_PORT),
      '--data-dir', dataDir,
      '--web-root', this.webRoot,
      '--stun-url', `stun:${PUBLIC_IP}:${TURN_PORT}`,
      '--turn-url', turn('udp'),
      '--turn-url', turn('tcp'),
      // One argument: a base64url secret may start with '-', which parseArgs would take for an option.
      `--turn-secret=${this.turnSecret}`,
    ]));
    await waitForOutput(child, /listening on http:/, 'wsp-registry');
  }

  /** coturn (STUN + TURN over UDP and TCP) with the registry's REST secret, all state in a temp folder. */
  async startCoturn(): Promise<void> {
    const dir = mkdtempSync(join(this.dir, 'coturn-'));
    const child = (this.coturn = this.spawnInPub('turnserver', [
      '-n',
      `--listening-ip=${PUBLIC_IP}`,
      `--relay-ip=${PUBLIC_IP}`,
      `--listening-port=${TURN_PORT}`,
      '--min-port=49152',
      '--max-port=49352',
      '--use-auth-secret',
      `--static-auth-secret=${this.turnSecret}`,
      '--realm=natlab.test',
      // The lab's public addresses are a documentation range: allow relaying between them.
      '--allowed-peer-ip=198.51.100.0-198.51.100.255',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-multicast-peers',
      `--userdb=${join(dir, 'turndb')}`,
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      '--log-file=stdout',
      '--simple-log',
      ...(process.env.NATLAB_LOG_DIR ? ['--verbose'] : []),
    ]));
    await waitForOutput(child, /Total General servers/, 'coturn');
    // Its listeners open a moment later: wait until TCP connects (UDP opens first).
    const deadline = Date.now() + 10_000;
    while (spawnSync('ip', ['netns', 'exec', this.pubNs, 'bash', '-c', `exec 3<>/dev/tcp/${PUBLIC_IP}/${TURN_PORT}`], { stdio: 'ignore' }).status !== 0) {
      if (Date.now() > deadline) throw new Error('coturn does not accept TCP connections');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the registry without warning, as a crash or a redeploy would. */
  async killRegistry(): Promise<void> {
    const child = this.registry;
    this.registry = undefined;
    await killNow(child);
  }

  /**
   * The router forgets every NAT mapping and connection it tracks (a reboot, a full conntrack
   * table, a carrier-grade NAT's timeout), keeping its address: packets from outside that match
   * no mapping are dropped until the LAN sends again.
   */
  flushMappings(sideName: 'a' | 'b'): void {
    inNs(this.sides[sideName].routerNs, 'conntrack', '-F');
  }

  /** Kills coturn without warning, as a crash or an outage would. */
  async killCoturn(): Promise<void> {
    const child = this.coturn;
    this.coturn = undefined;
    await killNow(child);
  }

  async invite(project: string): Promise<string> {
    // Signs with the registry's secret in its data folder; no network involved.
    return run(process.execPath, [BIN, 'invite', '--project', project, '--data-dir', join(this.dir, 'registry'), '--public-url', this.origin]).trim();
  }

  // --- browsers ----------------------------------------------------------------------------------

  private async launchBrowser(ns: string): Promise<Browser> {
    const wrapper = join(this.dir, `chromium-${ns}`);
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${chromiumPath()} "$@"\n`);
    chmodSync(wrapper, 0o755);
    return chromium.launch({
      executablePath: wrapper,
      // The registry is plain http on a non-loopback address: let the console's WebCrypto run there.
      args: [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${this.origin}`],
      timeout: 60_000,
    });
  }

  // --- teardown ----------------------------------------------------------------------------------

  async destroy(): Promise<void> {
    await Promise.all(Object.values(this.sides).map((side) => side.browser?.close().catch(() => undefined)));
    this.destroySync();
  }

  /** Kills the servers, removes the namespaces (killing whatever still runs in them) and the temp folder. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeListener(signal, this.onSignal);
    for (const child of [this.registry, this.coturn]) if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) removeNamespace(ns);
    try {
      rmdirSync('/etc/netns'); // only if empty: it may hold others' folders
    } catch {
      // not empty, or not there
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function killNow(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolveWait, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(`${what} did not start within ${timeoutMs} ms`), timeoutMs);
    const fail = (message: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}: ${out.slice(-2000)}`));
    };
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        // Keep draining the pipes so a chatty server never blocks on a full one.
        child.stdout!.removeListener('data', onData);
        child.stderr!.removeListener('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolveWait();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => fail(`${what} exited (${code ?? signal})`));
  });
}
