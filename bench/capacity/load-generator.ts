/**
 * The load generator of bench/capacity.bench.ts, one child process per server under test (bundled
 * by the bench with Vite, run with node, driven over IPC): the same code drives our registry and
 * the PeerJS server, and each holds up to 10,000 sockets, within this machine's open-file limit of
 * 20,000 per process (no CAP_SYS_RESOURCE to raise it), while the two servers take turns.
 *   ours:   the real admission: challenge, hello with an invite (JWT) and an Ed25519 proof, welcome;
 *           10 consoles per project; then `webrtc_ice_candidate` frames by to_peer_id;
 *   PeerJS: what the peerjs client does: /peerjs?key&id&token, wait for OPEN, a HEARTBEAT every 5 s;
 *           then `CANDIDATE` messages by dst.
 * Both carry the same payload bytes (PAYLOAD_JSON: what the peerjs client puts in a CANDIDATE's
 * payload, with a 64-byte signature in base64 as our consoles add one): PeerJS's as the JSON
 * text of its message, ours as the bytes of that text in the frame's binary payload.
 * Messages: {connect, count} → {seconds}; {measure, ms, window?} → {perSecond, serverCpu, loadCpu};
 * {relay, frames} → {seconds} (a fixed number of frames, for memory after the same work); {stop}.
 */
import { createHash, generateKeyPairSync, sign, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { InviteAuthority } from '../../src-main/registry/invites';
import { decodeServerFrame, encodeFrame } from '../../src-shared/protocol/codec';
import { PROTOCOL_VERSION } from '../../src-shared/protocol/signaling';
import { derivePeerId, signedMessage } from '../../src-shared/identity';

const KIND = process.env.LOAD_KIND as 'ours' | 'peerjs';
const PORT = Number(process.env.LOAD_PORT);
const SERVER_PID = Number(process.env.LOAD_SERVER_PID);
const PROJECT_SIZE = 10;
/** Frames in flight per direction per pair, unless a measure asks for another window. */
const WINDOW = 4;
const WARMUP_MS = 500;
const CONNECT_CONCURRENCY = 64;
/** Source addresses for the sockets: 10,000+ connections per run stay clear of one address's ephemeral ports. */
const SOURCE_ADDRESSES = 32;

/** A candidate as a browser would trickle it; both servers carry the same bytes of it. */
const CANDIDATE = {
  candidate: 'candidate:2442184434 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 ufrag Q3cX network-id 1 network-cost 10',
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'Q3cX',
};

/** The payload both servers carry, byte for byte (a fixed stand-in signature, so both generators send the same bytes). */
const PAYLOAD_JSON = JSON.stringify({ candidate: CANDIDATE, type: 'data', connectionId: 'dc_0123456789a', signature: createHash('sha512').update('bench').digest('base64') });

interface Server {
  port: number;
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
  const payload = new TextEncoder().encode(PAYLOAD_JSON);
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
      const message = (dst: string) => `{"type":"CANDIDATE","dst":${JSON.stringify(dst)},"payload":${PAYLOAD_JSON}}`;
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
  load: Load;
  running: boolean;
  counting: boolean;
  received: number;
}

function side(makeLoad: (onFrame: (client: LoadClient) => void) => Load): Side {
  const s: Side = { load: undefined as unknown as Load, running: false, counting: false, received: 0 };
  s.load = makeLoad((client) => {
    if (s.counting) s.received++;
    if (s.running && client.partner) client.ws.send(client.frame);
  });
  return s;
}

/** One window of frames on one server: every pair busy, `window` frames in flight each way. */
async function measure(s: Side, ms: number, window = WINDOW) {
  s.running = true;
  for (const client of s.load.clients) if (client.partner) for (let i = 0; i < window; i++) client.ws.send(client.frame);
  await sleep(WARMUP_MS);
  const [cpu0, loadCpu0] = [cpuSeconds(SERVER_PID), process.cpuUsage()];
  s.received = 0;
  s.counting = true;
  await sleep(ms);
  s.counting = false;
  const perSecond = s.received / (ms / 1000);
  const serverCpu = (cpuSeconds(SERVER_PID) - cpu0) / (ms / 1000);
  const used = process.cpuUsage(loadCpu0);
  s.running = false;
  await sleep(300); // what is in flight drains before the other server's turn
  return { perSecond, serverCpu, loadCpu: (used.user + used.system) / 1e6 / (ms / 1000) };
}

/**
 * Relays `frames` frames on one server (every pair busy, WINDOW in flight each way) and stops:
 * a fixed amount of work, so that two servers' memory can be compared after the same frames
 * rather than after the same time (in which the faster one relays more).
 */
async function relay(s: Side, frames: number) {
  const started = performance.now();
  s.received = 0;
  s.counting = true;
  await new Promise<void>((done) => {
    const check = setInterval(() => {
      if (s.received < frames) return;
      clearInterval(check);
      done();
    }, 5);
    s.running = true;
    for (const client of s.load.clients) if (client.partner) for (let i = 0; i < WINDOW; i++) client.ws.send(client.frame);
  });
  s.running = false;
  s.counting = false;
  const seconds = (performance.now() - started) / 1000;
  await sleep(300); // what is in flight drains
  return { seconds, relayed: s.received };
}

const server: Server = { port: PORT };
const s = KIND === 'ours'
  ? side((onFrame) => oursLoad(server, Uint8Array.from(Buffer.from(process.env.LOAD_SECRET ?? '', 'hex')), onFrame))
  : side((onFrame) => peerJsLoad(server, onFrame));

process.on('message', (message: { cmd: 'connect'; count: number } | { cmd: 'measure'; ms: number; window?: number } | { cmd: 'relay'; frames: number } | { cmd: 'stop' }) => {
  const reply = (value: unknown) => process.send!(value);
  const fail = (error: Error) => reply({ error: error.message });
  if (message.cmd === 'connect') connectUpTo(s.load, message.count).then((seconds) => reply({ seconds, open: s.load.clients.filter((c) => c.ws.readyState === WebSocket.OPEN).length }), fail);
  else if (message.cmd === 'measure') measure(s, message.ms, message.window).then((result) => reply({ ...result, open: s.load.clients.filter((c) => c.ws.readyState === WebSocket.OPEN).length }), fail);
  else if (message.cmd === 'relay') relay(s, message.frames).then(reply, fail);
  else {
    s.load.stop();
    reply({});
    setTimeout(() => process.exit(0), 100);
  }
});
process.send!({ ready: true });
