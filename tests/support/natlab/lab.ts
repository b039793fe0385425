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
 *
 * With `secure` (scenarios 8–10): a test CA the lab makes, trusted by the Chromiums (an NSS
 * database in their HOME); coturn also serves TURN over TLS on 443 and listens on IPv6; a second
 * registry on its own host ("web", 198.51.100.3 and 2001:db8:ff::3) serves https and wss on 443
 * on both families (`--host ::`). The public side and the routers speak IPv6 (2001:db8::/32, no
 * NAT: the routers only firewall it); a LAN gets IPv6, or loses IPv4, per scenario (setFamilies).
 */
import { chromium, type Browser } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CHROMIUM_ARGS, chromiumPath } from '../chromium';
import { LAB_PREFIX, inNs, removeNamespace, run } from './netns';
import { createTestCa, type IssuedCert, type TestCa } from '../test-ca';

export const PUBLIC_IP = '198.51.100.1';
export const REGISTRY_PORT = 7420;
export const TURN_PORT = 3478;
export const PUBLIC_IP6 = '2001:db8:ff::1';
/** The host of the https registry (`secure` labs). */
export const WEB_IP = '198.51.100.3';
export const WEB_IP6 = '2001:db8:ff::3';
/** HTTPS's port: the https registry's, and coturn's TURN over TLS (on PUBLIC_IP). */
export const TLS_PORT = 443;
/** A gateway nobody is, for "the rest of the Internet" (see buildNetwork). */
const BLACKHOLE_IP = '198.51.100.254';
const BLACKHOLE_IP6 = '2001:db8:ff::fe';
const BIN = resolve(__dirname, '../../../bin/wsp-registry.js');

/**
 * How a router treats traffic from its LAN:
 * - `eim`: endpoint-independent mapping (Linux keeps the source port), endpoint-dependent filtering:
 *   a port-restricted cone, the common home router; hole punching works.
 * - `symmetric`: a fresh random port for every destination (`--random-fully`): hole punching fails.
 * - `udp-blocked`: like `eim`, but all UDP from the LAN is dropped (a strict corporate firewall).
 * - `registry-only`: only TCP to the registry's port gets out.
 * - `tcp443-only`: only TCP to port 443 gets out, to any address (a corporate firewall that lets
 *   HTTPS through and nothing else); like `eim` otherwise.
 * IPv6 is never translated, only firewalled alike (what is allowed out, and replies to it).
 */
export type NatMode = 'eim' | 'symmetric' | 'udp-blocked' | 'registry-only' | 'tcp443-only';

/** What a LAN has: IPv4 behind the NAT (the default), that and global IPv6, or IPv6 alone. */
export type LanFamilies = 'ipv4' | 'dual' | 'ipv6';

export interface LabSide {
  name: 'a' | 'b';
  routerNs: string;
  lanNs: string;
  lanIp: string;
  wanIp: string;
  lanIp6: string;
  wanIp6: string;
  browser: Browser;
}

export class NatLab {
  readonly pubNs: string;
  readonly sides: Record<'a' | 'b', LabSide>;
  readonly origin = `http://${PUBLIC_IP}:${REGISTRY_PORT}`;
  /** The https registry (`secure` labs) at its IPv4 and its IPv6 address. */
  readonly secureOrigin = `https://${WEB_IP}`;
  readonly secureOrigin6 = `https://[${WEB_IP6}]`;
  /** The test CA the Chromiums trust (`secure` labs). */
  ca: TestCa | undefined;
  readonly turnSecret = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url');
  private readonly dir: string;
  private turnCert: IssuedCert | undefined;
  private webCert: IssuedCert | undefined;
  readonly webNs: string;
  private registry: ChildProcess | undefined;
  private secureRegistry: ChildProcess | undefined;
  private coturn: ChildProcess | undefined;
  private readonly namespaces: string[] = [];
  private destroyed = false;
  private readonly onExit = () => this.destroySync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.destroySync();
    process.kill(process.pid, signal);
  };

  private constructor(
    readonly webRoot: string,
    readonly secure: boolean,
  ) {
    const id = `${LAB_PREFIX}${process.pid}-${Date.now().toString(36).slice(-4)}`;
    this.pubNs = `${id}-pub`;
    this.webNs = `${id}-web`;
    this.dir = mkdtempSync(join(tmpdir(), 'wsp-natlab-'));
    const side = (name: 'a' | 'b', n: number): LabSide => ({
      name,
      routerNs: `${id}-r${name}`,
      lanNs: `${id}-l${name}`,
      lanIp: `10.0.${n}.2`,
      wanIp: `198.51.100.${10 + n}`,
      lanIp6: `2001:db8:${n}::2`,
      wanIp6: `2001:db8:ff::${10 + n}`,
      browser: undefined as unknown as Browser,
    });
    this.sides = { a: side('a', 1), b: side('b', 2) };
  }

  /**
   * Builds the namespaces and starts registry, coturn and one Chromium per LAN; `secure`: also the
   * test CA, TURN over TLS, IPv6 in coturn and the https registry (needs certutil, libnss3-tools).
   */
  static async create(webRoot: string, options: { secure?: boolean } = {}): Promise<NatLab> {
    const lab = new NatLab(webRoot, options.secure ?? false);
    process.once('exit', lab.onExit);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, lab.onSignal);
    try {
      lab.buildNetwork();
      if (lab.secure) lab.makeCertificates();
      await Promise.all([lab.startRegistry(), lab.startCoturn(), ...(lab.secure ? [lab.startSecureRegistry()] : [])]);
      await Promise.all(Object.values(lab.sides).map(async (side) => (side.browser = await lab.launchBrowser(side.lanNs))));
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  // --- topology ----------------------------------------------------------------------------------

  /** `ipv6`: the namespace speaks IPv6 (public side, routers); LANs start IPv4 only (setFamilies). */
  private addNs(ns: string, ipv6 = false): void {
    run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    // IPv4 only unless asked: keeps the candidates (and the NAT rules) to one family. No duplicate
    // address detection: an address is usable at once (nothing else in the lab could hold it).
    inNs(ns, 'sysctl', '-qw', `net.ipv6.conf.all.disable_ipv6=${ipv6 ? 0 : 1}`, `net.ipv6.conf.default.disable_ipv6=${ipv6 ? 0 : 1}`, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
  }

  private buildNetwork(): void {
    const pub = this.pubNs;
    this.addNs(pub, true);
    run('ip', ['-n', pub, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', pub, 'addr', 'add', `${PUBLIC_IP}/24`, 'dev', 'br0']);
    run('ip', ['-n', pub, '-6', 'addr', 'add', `${PUBLIC_IP6}/64`, 'dev', 'br0', 'nodad']);
    run('ip', ['-n', pub, 'link', 'set', 'br0', 'up']);
    this.addBlackhole(pub, 'br0');
    if (this.secure) {
      // The https registry's own host on the public side.
      const web = this.webNs;
      this.addNs(web, true);
      run('ip', ['link', 'add', 'eth0', 'netns', web, 'type', 'veth', 'peer', 'name', 'to-web', 'netns', pub]);
      run('ip', ['-n', pub, 'link', 'set', 'to-web', 'master', 'br0', 'up']);
      run('ip', ['-n', web, 'addr', 'add', `${WEB_IP}/24`, 'dev', 'eth0']);
      run('ip', ['-n', web, '-6', 'addr', 'add', `${WEB_IP6}/64`, 'dev', 'eth0', 'nodad']);
      run('ip', ['-n', web, 'link', 'set', 'eth0', 'up']);
      this.addBlackhole(web, 'eth0');
    }
    for (const side of Object.values(this.sides)) {
      const { routerNs: r, lanNs: l } = side;
      const n = side.name === 'a' ? 1 : 2;
      this.addNs(r, true);
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
      // IPv6: the router's WAN address on the public /64, its LAN's own /64 routed to it (no NAT).
      run('ip', ['-n', r, '-6', 'addr', 'add', `${side.wanIp6}/64`, 'dev', 'wan', 'nodad']);
      run('ip', ['-n', r, '-6', 'addr', 'add', `2001:db8:${n}::1/64`, 'dev', 'lan', 'nodad']);
      run('ip', ['-n', r, '-6', 'route', 'add', 'default', 'via', PUBLIC_IP6]);
      inNs(r, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
      for (const ns of [pub, ...(this.secure ? [this.webNs] : [])]) run('ip', ['-n', ns, '-6', 'route', 'add', `2001:db8:${n}::/64`, 'via', side.wanIp6]);
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
    // IPv6 from one LAN to the other goes router to router over the public /64.
    const { a, b } = this.sides;
    run('ip', ['-n', a.routerNs, '-6', 'route', 'add', '2001:db8:2::/64', 'via', b.wanIp6]);
    run('ip', ['-n', b.routerNs, '-6', 'route', 'add', '2001:db8:1::/64', 'via', a.wanIp6]);
  }

  /**
   * The rest of the Internet: a default route to a gateway nobody is (a permanent neighbour
   * entry with an unused MAC), where packets vanish. Without one, coturn's sends to a peer's
   * private address fail with ENETUNREACH and coturn closes the whole allocation (seen as a
   * TURN/TCP link flapping); on the real Internet such packets are just lost.
   */
  private addBlackhole(ns: string, dev: string): void {
    run('ip', ['-n', ns, 'neigh', 'add', BLACKHOLE_IP, 'lladdr', '02:00:00:00:00:fe', 'dev', dev, 'nud', 'permanent']);
    run('ip', ['-n', ns, 'route', 'add', 'default', 'via', BLACKHOLE_IP]);
    run('ip', ['-n', ns, '-6', 'neigh', 'add', BLACKHOLE_IP6, 'lladdr', '02:00:00:00:00:fe', 'dev', dev, 'nud', 'permanent']);
    run('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', BLACKHOLE_IP6]);
  }

  /**
   * Gives a LAN IPv6 (a global address on its own /64, routed, not translated), takes it away, or
   * takes IPv4 away. Set before the scenario's pages open: Chromium reads the interfaces then.
   */
  setFamilies(sideName: 'a' | 'b', families: LanFamilies): void {
    const side = this.sides[sideName];
    const l = side.lanNs;
    const n = side.name === 'a' ? 1 : 2;
    if (families === 'ipv4') {
      inNs(l, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
    } else {
      inNs(l, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.eth0.disable_ipv6=0');
      run('ip', ['-n', l, '-6', 'addr', 'replace', `${side.lanIp6}/64`, 'dev', 'eth0', 'nodad']);
      run('ip', ['-n', l, '-6', 'route', 'replace', 'default', 'via', `2001:db8:${n}::1`]);
    }
    if (families === 'ipv6') {
      run('ip', ['-n', l, '-4', 'addr', 'flush', 'dev', 'eth0']);
    } else {
      run('ip', ['-n', l, '-4', 'addr', 'replace', `${side.lanIp}/24`, 'dev', 'eth0']);
      run('ip', ['-n', l, '-4', 'route', 'replace', 'default', 'via', `10.0.${n}.1`]);
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
    if (mode === 'registry-only') ipt('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-p', 'tcp', '-d', PUBLIC_IP, '--dport', String(REGISTRY_PORT), '-j', 'ACCEPT');
    ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(mode === 'symmetric' ? ['--random-fully'] : []));
    // IPv6: the same firewall without translation. Neighbour discovery (ICMPv6) must reach the router.
    const ip6t = (...args: string[]) => inNs(r, 'ip6tables', ...args);
    ip6t('-F');
    ip6t('-P', 'INPUT', 'DROP');
    ip6t('-P', 'FORWARD', 'DROP');
    ip6t('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
    ip6t('-A', 'INPUT', '-p', 'ipv6-icmp', '-j', 'ACCEPT');
    ip6t('-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    ip6t('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    for (const t of [ipt, ip6t]) {
      if (mode === 'udp-blocked') t('-A', 'FORWARD', '-i', 'lan', '-p', 'udp', '-j', 'DROP');
      if (mode === 'tcp443-only') t('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-p', 'tcp', '--dport', String(TLS_PORT), '-j', 'ACCEPT');
    }
    // (registry-only: the plain registry has no IPv6 address, so nothing IPv6 gets out.)
    if (mode !== 'registry-only' && mode !== 'tcp443-only') for (const t of [ipt, ip6t]) t('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT');
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

  /**
   * The test CA, its certificates for coturn (TURN over TLS at PUBLIC_IP) and the https registry
   * (both its addresses), and an NSS database that trusts the CA, in the HOME the Chromiums get
   * (Chromium on Linux takes user-added roots from ~/.pki/nssdb).
   */
  private makeCertificates(): void {
    const caDir = join(this.dir, 'ca');
    mkdirSync(caDir);
    const ca = (this.ca = createTestCa(caDir));
    this.turnCert = ca.issue('turn.natlab.test', { ip: [PUBLIC_IP, PUBLIC_IP6] });
    this.webCert = ca.issue('wsp.natlab.test', { ip: [WEB_IP, WEB_IP6] });
    const nssdb = join(this.dir, 'home', '.pki', 'nssdb');
    mkdirSync(nssdb, { recursive: true });
    run('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
    run('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', 'WSP NAT lab test CA', '-t', 'C,,', '-i', ca.certFile]);
  }

  private spawnInPub(command: string, args: string[]): ChildProcess {
    return this.spawnIn(this.pubNs, command, args);
  }

  private spawnIn(ns: string, command: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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

  /**
   * The https registry on its own host (`secure` labs): https and wss on 443 on both families
   * (`--host ::`), certificate from the test CA. It hands out STUN and TURN at coturn's IPv4 and
   * IPv6 addresses and TURN over TLS on 443 (`turns:…:443?transport=tcp`), for a firewall that
   * lets only HTTPS out.
   */
  async startSecureRegistry(): Promise<void> {
    const child = (this.secureRegistry = this.spawnIn(this.webNs, process.execPath, [
      BIN,
      '--host', '::',
      '--port', String(TLS_PORT),
      '--data-dir', join(this.dir, 'secure-registry'),
      '--web-root', this.webRoot,
      '--tls-cert', this.webCert!.certFile,
      '--tls-key', this.webCert!.keyFile,
      '--stun-url', `stun:${PUBLIC_IP}:${TURN_PORT}`,
      '--stun-url', `stun:[${PUBLIC_IP6}]:${TURN_PORT}`,
      '--turn-url', `turn:${PUBLIC_IP}:${TURN_PORT}?transport=udp`,
      '--turn-url', `turn:[${PUBLIC_IP6}]:${TURN_PORT}?transport=udp`,
      '--turn-url', `turns:${PUBLIC_IP}:${TLS_PORT}?transport=tcp`,
      `--turn-secret=${this.turnSecret}`,
    ]));
    await waitForOutput(child, /listening on https:/, 'wsp-registry (https)');
  }

  /** An invite to the https registry, its link naming the IPv4 or the IPv6 address. */
  async secureInvite(project: string, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<string> {
    return run(process.execPath, [BIN, 'invite', '--project', project, '--data-dir', join(this.dir, 'secure-registry'), '--public-url', family === 'ipv6' ? this.secureOrigin6 : this.secureOrigin]).trim();
  }

  /** coturn (STUN + TURN over UDP and TCP) with the registry's REST secret, all state in a temp folder. */
  async startCoturn(): Promise<void> {
    const dir = mkdtempSync(join(this.dir, 'coturn-'));
    const child = (this.coturn = this.spawnInPub('turnserver', [
      '-n',
      `--listening-ip=${PUBLIC_IP}`,
      `--relay-ip=${PUBLIC_IP}`,
      `--listening-port=${TURN_PORT}`,
      // Secure labs: IPv6 too (an IPv6-only console reaches it there; with no requested family its
      // allocation is IPv4, RFC 6156's default, so it is relayed to IPv4 peers), and TURN over TLS
      // on 443 with the test CA's certificate.
      ...(this.secure
        ? [`--listening-ip=${PUBLIC_IP6}`, `--relay-ip=${PUBLIC_IP6}`, `--tls-listening-port=${TLS_PORT}`, `--cert=${this.turnCert!.certFile}`, `--pkey=${this.turnCert!.keyFile}`, '--allowed-peer-ip=2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff']
        : ['--no-tls']),
      '--min-port=49152',
      '--max-port=49352',
      '--use-auth-secret',
      `--static-auth-secret=${this.turnSecret}`,
      '--realm=natlab.test',
      // The lab's public addresses are a documentation range: allow relaying between them.
      '--allowed-peer-ip=198.51.100.0-198.51.100.255',
      '--no-cli',
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

  /**
   * How long the router keeps an idle UDP mapping, in seconds (Linux's defaults: 30 for a flow
   * that has seen one packet, 120 for one that has seen replies); `undefined` restores them. Home
   * routers keep some for as little as 20–30 s.
   */
  setUdpMappingTimeout(sideName: 'a' | 'b', seconds: number | undefined): void {
    const r = this.sides[sideName].routerNs;
    inNs(r, 'sysctl', '-q', '-w', `net.netfilter.nf_conntrack_udp_timeout=${seconds ?? 30}`, `net.netfilter.nf_conntrack_udp_timeout_stream=${seconds ?? 120}`);
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
    // Secure labs: a HOME of the lab's own, whose NSS database trusts the test CA (makeCertificates).
    const home = this.secure ? `HOME=${join(this.dir, 'home')} ` : '';
    writeFileSync(wrapper, `#!/bin/sh\n${home}exec ip netns exec ${ns} ${chromiumPath()} "$@"\n`);
    chmodSync(wrapper, 0o755);
    return chromium.launch({
      executablePath: wrapper,
      // The plain registry is http on a non-loopback address: let the console's WebCrypto run there.
      // (The https registry needs no such flag: its page is a secure context by itself.)
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
    for (const child of [this.registry, this.secureRegistry, this.coturn]) if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
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
