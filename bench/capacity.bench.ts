/**
 * Registry capacity against the PeerJS server (`peer`), both as their own processes on loopback,
 * under the same load from the same load generator (this process):
 *   - concurrent authenticated connections held, 1,000 then 10,000 (500 then 1,000 with --quick),
 *     and the server's resident memory (VmRSS from /proc/PID/status) while it holds them;
 *     ours: each console answers the challenge with an Ed25519 proof and an invite (JWT), 10 per
 *     project; PeerJS: each client opens /peerjs?key&id&token (its whole admission) and sends a
 *     HEARTBEAT every 5 s as the peerjs client does;
 *   - signaling frames relayed per second between connected pairs, every pair busy with a window
 *     of frames in flight each way (closed loop: each frame received is answered with one more):
 *     ours `webrtc_ice_candidate` by to_peer_id, PeerJS `CANDIDATE` by dst, payloads of the same size.
 * Results: registry_frames_per_s_1k / _10k (ratio ours / PeerJS), registry_rss_mib_10k (MiB;
 * ratio ours / PeerJS, below 1 = we use less). Bounded in count and time; loopback only.
 */
import { it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { InviteAuthority } from '../src-main/registry/invites';
import { decodeServerFrame, encodeFrame } from '../src-shared/protocol/codec';
import { PROTOCOL_VERSION } from '../src-shared/protocol/signaling';
import { derivePeerId, signedMessage } from '../src-shared/identity';
import { median, recordResult } from './stats';

const QUICK = process.env.BENCH_QUICK === '1';
const STEPS = QUICK ? [500, 1000] : [1000, 10_000];
const PROJECT_SIZE = 10;
/** Frames in flight per direction per pair. */
const WINDOW = 4;
const WARMUP_MS = 500;
const MEASURE_MS = QUICK ? 1000 : 1500;
/** Alternating windows per server and step: the median is reported. */
const ROUNDS = QUICK ? 3 : 5;
const CONNECT_CONCURRENCY = 64;
/** Source addresses for the load generator's sockets: 10,000+ connections per run stay clear of one address's ephemeral ports. */
const SOURCE_ADDRESSES = 32;
const OUT = resolve(__dirname, '../.test-output/capacity');

/** A candidate as a browser would trickle it; both servers carry the same bytes of it. */
const CANDIDATE = {
  candidate: 'candidate:2442184434 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 ufrag Q3cX network-id 1 network-cost 10',
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'Q3cX',
};

interface Server {
  name: string;
  pid: number;
  port: number;
  child: ChildProcess;
}

interface LoadClient {
  ws: WebSocket;
  /** The frame this client sends to its partner, encoded once. */
  frame: Buffer | Uint8Array | string;
  partner?: LoadClient;
}

interface Load {
  clients: LoadClient[];
  connect(index: number): Promise<LoadClient>;
  /** Pairs clients 2k and 2k+1 (same project) once all are connected: each one's frame goes to the other. */
  pairUp(): void;
  stop(): void;
}

async function buildRegistryServer(): Promise<string> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: resolve(__dirname, 'capacity/registry-server.ts'),
      outDir: OUT,
      emptyOutDir: true,
      minify: false,
      rollupOptions: { output: { entryFileNames: 'registry-server.mjs', format: 'es' } },
    },
  });
  return resolve(OUT, 'registry-server.mjs');
}

function startServer(name: string, script: string, env: Record<string, string> = {}): Promise<Server> {
  // BENCH_CPU_PROF=DIR writes each server's V8 CPU profile there (for looking into a result).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...profile, script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return new Promise((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`${name} did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        done({ name, pid: child.pid!, port: Number(match[1]), child });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => fail(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

function stopServer(server: Server): Promise<void> {
  return new Promise((done) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return done();
    const kill = setTimeout(() => server.child.kill('SIGKILL'), 5000);
    server.child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    server.child.kill('SIGTERM');
  });
}

function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kib / 1024;
}

/** user + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function sourceAddress(index: number): string {
  return `127.0.0.${2 + (index % SOURCE_ADDRESSES)}`;
}

/** Native keys (node:crypto) in the tweetnacl layout the protocol uses: 10,000 identities in about a second. */
function fastIdentity() {
  const rawPublic = (key: KeyObject) => new Uint8Array(key.export({ format: 'der', type: 'spki' }).subarray(-32));
  const signing = generateKeyPairSync('ed25519');
  const box = generateKeyPairSync('x25519');
  const signingPublicKey = rawPublic(signing.publicKey);
  const boxPublicKey = rawPublic(box.publicKey);
  return {
    peerId: derivePeerId(signingPublicKey),
    signingPublicKey,
    boxPublicKey,
    boxKeySignature: new Uint8Array(sign(null, signedMessage('boxKey', boxPublicKey), signing.privateKey)),
    sign: (message: Uint8Array) => new Uint8Array(sign(null, message, signing.privateKey)),
  };
}

/** Our registry: the real admission (challenge, hello with the invite and the Ed25519 proof, welcome). */
function oursLoad(server: Server, secret: Uint8Array, onFrame: (client: LoadClient) => void): Load {
  const authority = new InviteAuthority(secret);
  const invites = new Map<number, Promise<string>>();
  const invite = (project: number) => {
    if (!invites.has(project)) invites.set(project, authority.issue({ project: `bench-${project}`, ttlMs: 3_600_000 }));
    return invites.get(project)!;
  };
  const clients: LoadClient[] = [];
  const ids: Array<ReturnType<typeof fastIdentity>> = [];
  const payload = new Uint8Array([...new TextEncoder().encode(JSON.stringify(CANDIDATE)), ...randomBytes(64)]); // + a signature, as our consoles sign signaling
  return {
    clients,
    async connect(index) {
      const id = fastIdentity();
      const token = await invite(Math.floor(index / PROJECT_SIZE));
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { localAddress: sourceAddress(index), perMessageDeflate: false });
      const client: LoadClient = { ws, frame: new Uint8Array() };
      await new Promise<void>((done, fail) => {
        let welcomed = false;
        ws.on('message', (data: Buffer) => {
          if (welcomed) return onFrame(client);
          const decoded = decodeServerFrame(new Uint8Array(data));
          if (!decoded.ok) return fail(new Error(decoded.message));
          const frame = decoded.frame;
          if (frame.type === 'challenge') {
            ws.send(
              encodeFrame({
                type: 'hello',
                protocol: PROTOCOL_VERSION,
                invite: token,
                display_name: `load ${index}`,
                signing_key: id.signingPublicKey,
                box_key: id.boxPublicKey,
                box_key_sig: id.boxKeySignature,
                nonce_sig: id.sign(signedMessage('registryAuth', frame.nonce)),
              }),
            );
          } else if (frame.type === 'welcome') {
            welcomed = true;
            done();
          } else if (frame.type === 'error') fail(new Error(`${frame.code}: ${frame.message}`));
        });
        ws.once('error', fail);
        ws.once('close', (code) => fail(new Error(`closed ${code}`)));
      });
      clients[index] = client;
      ids[index] = id;
      return client;
    },
    pairUp() {
      for (let i = 1; i < clients.length; i += 2) {
        const [a, b] = [clients[i - 1]!, clients[i]!];
        a.partner = b;
        b.partner = a;
        a.frame = encodeFrame({ type: 'webrtc_ice_candidate', to_peer_id: ids[i]!.peerId, payload });
        b.frame = encodeFrame({ type: 'webrtc_ice_candidate', to_peer_id: ids[i - 1]!.peerId, payload });
      }
    },
    stop() {
      for (const client of clients) client?.ws.terminate();
    },
  };
}

/** The PeerJS server: what the peerjs client does (open /peerjs?key&id&token, wait for OPEN, HEARTBEAT every 5 s). */
function peerJsLoad(server: Server, onFrame: (client: LoadClient) => void): Load {
  const clients: LoadClient[] = [];
  const ids: string[] = [];
  // The peerjs client sends a HEARTBEAT every 5 s; spread over 50 ticks of 100 ms.
  let tick = 0;
  const heartbeat = setInterval(() => {
    for (let i = tick % 50; i < clients.length; i += 50) clients[i]?.ws.send('{"type":"HEARTBEAT"}');
    tick++;
  }, 100);
  return {
    clients,
    async connect(index) {
      const id = `load-${index}-${randomBytes(6).toString('hex')}`;
      const token = randomBytes(8).toString('hex');
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/peerjs?key=peerjs&id=${id}&token=${token}`, { localAddress: sourceAddress(index), perMessageDeflate: false });
      const client: LoadClient = { ws, frame: '' };
      await new Promise<void>((done, fail) => {
        let open = false;
        ws.on('message', (data: Buffer) => {
          if (open) return onFrame(client);
          const message = JSON.parse(data.toString()) as { type: string; payload?: { msg?: string } };
          if (message.type === 'OPEN') {
            open = true;
            done();
          } else fail(new Error(`${message.type}: ${message.payload?.msg}`));
        });
        ws.once('error', fail);
        ws.once('close', (code) => fail(new Error(`closed ${code}`)));
      });
      clients[index] = client;
      ids[index] = id;
      return client;
    },
    pairUp() {
      const message = (dst: string) => JSON.stringify({ type: 'CANDIDATE', dst, payload: { candidate: CANDIDATE, type: 'data', connectionId: 'dc_0123456789a', signature: randomBytes(64).toString('base64') } });
      for (let i = 1; i < clients.length; i += 2) {
        const [a, b] = [clients[i - 1]!, clients[i]!];
        a.partner = b;
        b.partner = a;
        a.frame = message(ids[i]!);
        b.frame = message(ids[i - 1]!);
      }
    },
    stop() {
      clearInterval(heartbeat);
      for (const client of clients) client?.ws.terminate();
    },
  };
}

async function connectUpTo(load: Load, count: number): Promise<number> {
  const started = performance.now();
  let next = load.clients.length;
  const worker = async () => {
    while (next < count) await load.connect(next++);
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  load.pairUp();
  return (performance.now() - started) / 1000;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A server and its load: frames counted per server, so the two can take turns on the same connections. */
interface Side {
  server: Server;
  load: Load;
  running: boolean;
  counting: boolean;
  received: number;
}

function side(server: Server, makeLoad: (onFrame: (client: LoadClient) => void) => Load): Side {
  const s: Side = { server, load: undefined as unknown as Load, running: false, counting: false, received: 0 };
  s.load = makeLoad((client) => {
    if (s.counting) s.received++;
    if (s.running && client.partner) client.ws.send(client.frame);
  });
  return s;
}

/** One window of frames on one server: every pair busy, WINDOW frames in flight each way. */
async function measure(s: Side, ms: number) {
  s.running = true;
  for (const client of s.load.clients) if (client.partner) for (let i = 0; i < WINDOW; i++) client.ws.send(client.frame);
  await sleep(WARMUP_MS);
  const [cpu0, loadCpu0] = [cpuSeconds(s.server.pid), process.cpuUsage()];
  s.received = 0;
  s.counting = true;
  await sleep(ms);
  s.counting = false;
  const perSecond = s.received / (ms / 1000);
  const serverCpu = (cpuSeconds(s.server.pid) - cpu0) / (ms / 1000);
  const used = process.cpuUsage(loadCpu0);
  s.running = false;
  await sleep(300); // what is in flight drains before the other server's turn
  return { perSecond, serverCpu, loadCpu: (used.user + used.system) / 1e6 / (ms / 1000) };
}

it('registry capacity', async () => {
  const script = await buildRegistryServer();
  const secret = new Uint8Array(randomBytes(32));
  const servers = [
    await startServer('ours', script, { BENCH_SECRET: Buffer.from(secret).toString('hex') }),
    await startServer('PeerJS', resolve(__dirname, 'capacity/peerjs-server.mjs')),
  ] as const;
  const sides = [side(servers[0], (onFrame) => oursLoad(servers[0], secret, onFrame)), side(servers[1], (onFrame) => peerJsLoad(servers[1], onFrame))] as const;
  const results: Array<{ connections: number; perSecond: [number, number]; rss: [number, number] }> = [];
  try {
    const idle = sides.map((s) => rssMiB(s.server.pid));
    for (const step of STEPS) {
      // Both hold `step` connections; then they take turns relaying, so drift on this shared machine hits both alike.
      for (const s of sides) {
        const seconds = await connectUpTo(s.load, step);
        console.log(`${s.server.name}: ${step} connections admitted in ${seconds.toFixed(1)} s`);
      }
      await sleep(1000);
      const held = sides.map((s) => rssMiB(s.server.pid));
      const windows: Array<Array<Awaited<ReturnType<typeof measure>>>> = [[], []];
      for (let round = 0; round < ROUNDS; round++) for (const [i, s] of sides.entries()) windows[i]!.push(await measure(s, MEASURE_MS));
      const rss = sides.map((s, i) => Math.max(held[i]!, rssMiB(s.server.pid)));
      for (const [i, s] of sides.entries()) {
        if (s.load.clients.some((c) => c.ws.readyState !== WebSocket.OPEN)) throw new Error(`${s.server.name}: connections closed during the benchmark`);
        const w = windows[i]!;
        console.log(
          `${s.server.name} at ${step}: RSS ${rss[i]!.toFixed(0)} MiB (idle ${idle[i]!.toFixed(0)} MiB: ${(((rss[i]! - idle[i]!) * 1024) / step).toFixed(1)} KiB per connection); ` +
            `frames/s ${w.map((x) => Math.round(x.perSecond)).join(', ')} (server CPU ${w.map((x) => `${(x.serverCpu * 100).toFixed(0)}%`).join(', ')}; load generator CPU ${w.map((x) => `${(x.loadCpu * 100).toFixed(0)}%`).join(', ')})`,
        );
      }
      results.push({
        connections: step,
        perSecond: [median(windows[0]!.map((x) => x.perSecond)), median(windows[1]!.map((x) => x.perSecond))],
        rss: [rss[0]!, rss[1]!],
      });
    }
  } finally {
    for (const s of sides) s.load.stop();
    await Promise.all(servers.map(stopServer));
  }
  const [small, large] = STEPS.map((n) => (n >= 1000 ? `${n / 1000}k` : String(n)));
  const note = QUICK ? ` — quick run: ${STEPS[0]} and ${STEPS[1]} connections` : '';
  const [one, ten] = results as [(typeof results)[0], (typeof results)[0]];
  recordResult('registry_frames_per_s_1k', one.perSecond[0], one.perSecond[1], `frames/s at ${small} connections (baseline: PeerJS server)${note}`, { ratio: 'ours/baseline', higherIsBetter: true });
  recordResult('registry_frames_per_s_10k', ten.perSecond[0], ten.perSecond[1], `frames/s at ${large} connections (baseline: PeerJS server)${note}`, { ratio: 'ours/baseline', higherIsBetter: true });
  recordResult('registry_rss_mib_10k', ten.rss[0], ten.rss[1], `MiB RSS holding ${large} connections (baseline: PeerJS server)${note}`, { ratio: 'ours/baseline', higherIsBetter: false });
}, 900_000);
