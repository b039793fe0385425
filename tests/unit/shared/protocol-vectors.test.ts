/**
 * The test vectors in docs/PROTOCOL.md, docs/PEER-PROTOCOL.md and docs/WORKSTREAM.md, checked
 * against the code: bytes in, meaning out, so that a peer written from the docs alone gets the
 * same bytes as the consoles, and the docs cannot drift from the code.
 *
 * A vector is a fenced block opened with ```test-vector name=NAME, holding `key: value` lines
 * (a value may go on over lines indented by two spaces; `#` starts a comment line). Hex values
 * ignore whitespace; JSON values write MessagePack bin as "bin:<hex>". Every vector in the docs
 * has a checker here and every checker a vector, and changing any one value of a vector (but the
 * few in UNALTERABLE) makes its checker fail.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { decode, encode } from '@msgpack/msgpack';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex } from '../../../src-shared/bytes';
import { derivePeerId, ed25519Sign, ed25519Verify, signedMessage, verifyPublicIdentity, x25519, type SecretIdentity } from '../../../src-shared/identity';
import { certificateBody, decodeCertificate, encodeCertificate, verifyCertificate, type SessionSecrets } from '../../../src-shared/session-certificate';
import { decodeClientFrame, decodeServerFrame, encodeFrame } from '../../../src-shared/protocol/codec';
import { PROTOCOL_VERSION, type ClientFrame, type EarlyHelloFrame, type ServerFrame } from '../../../src-shared/protocol/signaling';
import { earlyHelloPayload, earlyHelloProtocols, readEarlyHello } from '../../../src-shared/protocol/early-hello';
import { checkEntry, encodeEntryBody, type FileBody } from '../../../src-shared/workstream/entry';
import { entryHash, verifyRuns } from '../../../src-shared/workstream/chain';
import { DEFAULT_LIMITS } from '../../../src-main/registry/registry';
import { iceServersFor } from '../../../src-main/registry/turn-credentials';
import { deriveSignalKey, recipientKeyId, signalMac, signalMacValid } from '../../../src-renderer/engine/link/signal-key';
import { decodeEnvelope, decodeLinkSignal, encodeEnvelope, encodeLinkSignal, signalMacBytes, signalSignedBytes, type LinkSignal } from '../../../src-renderer/engine/link/signal-codec';
import { decodeStreamFrame, ReliableStream, type StreamPath } from '../../../src-renderer/engine/link/reliable-stream';
import { DataChannelPath } from '../../../src-renderer/engine/link/datachannel-path';
import { decodeRelayFrame, encodeRelayFrame } from '../../../src-renderer/engine/link/link-epochs';
import { RelaySeal } from '../../../src-renderer/engine/link/relay-seal';
import { openWorkstream, type Workstream } from '../../../src-renderer/engine/workstream/workstream';
import { WorkstreamLog } from '../../../src-renderer/engine/workstream/workstream-log';
import { MemoryWorkstreamStore } from '../../../src-renderer/engine/workstream/workstream-store';
import { RoutedBus } from '../../support/link-bus';

const ROOT = join(__dirname, '../../..');
const DOCS = ['docs/PROTOCOL.md', 'docs/PEER-PROTOCOL.md', 'docs/WORKSTREAM.md'];

// ------------------------------------------------------------------------------ reading vectors

type Fields = ReadonlyMap<string, string>;
interface Vector {
  doc: string;
  name: string;
  fields: Fields;
}

function parseVectors(doc: string, text: string): Vector[] {
  const vectors: Vector[] = [];
  for (const block of text.matchAll(/^```test-vector name=([\w-]+)\n([\s\S]*?)^```$/gm)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of block[2]!.split('\n')) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      if (line.startsWith('  ') && last !== undefined) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`.trim());
        continue;
      }
      const match = /^([a-z][a-z0-9_]*):(?: (.*))?$/.exec(line);
      if (!match) throw new Error(`${doc}, vector ${block[1]}: not a "key: value" line: ${line}`);
      if (fields.has(match[1]!)) throw new Error(`${doc}, vector ${block[1]}: ${match[1]} given twice`);
      fields.set((last = match[1]!), (match[2] ?? '').trim());
    }
    vectors.push({ doc, name: block[1]!, fields });
  }
  return vectors;
}

const allVectors = DOCS.flatMap((doc) => parseVectors(doc, readFileSync(join(ROOT, doc), 'utf8')));
const byName = new Map(allVectors.map((v) => [v.name, v]));

/** Typed access to a vector's fields; a missing field is an error, not undefined. */
class Reader {
  constructor(
    readonly name: string,
    private readonly fields: Fields,
  ) {}
  text(key: string): string {
    const value = this.fields.get(key);
    if (value === undefined) throw new Error(`vector ${this.name} has no ${key}`);
    return value;
  }
  hex(key: string): Uint8Array<ArrayBuffer> {
    const text = this.text(key).replace(/\s+/g, '');
    if (!/^([0-9a-f]{2})*$/.test(text)) throw new Error(`vector ${this.name}: ${key} is not lower-case hex`);
    return Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
  }
  int(key: string): number {
    const text = this.text(key);
    if (!/^\d+$/.test(text)) throw new Error(`vector ${this.name}: ${key} is not a decimal integer`);
    return Number(text);
  }
  /** The JSON as written (bin as "bin:<hex>" strings), for comparing with toJsonForm. */
  json(key: string): unknown {
    return JSON.parse(this.text(key)) as unknown;
  }
  /** The JSON as values to encode: "bin:<hex>" strings become bytes. */
  value(key: string): unknown {
    return fromJsonForm(this.json(key));
  }
}

function reader(name: string, fields?: Fields): Reader {
  const vector = byName.get(name);
  if (!vector) throw new Error(`no test-vector named ${name} in ${DOCS.join(', ')}`);
  return new Reader(name, fields ?? vector.fields);
}

/** A decoded MessagePack value as the docs write it: bytes as "bin:<hex>". */
function toJsonForm(value: unknown): unknown {
  if (value instanceof Uint8Array) return `bin:${toHex(value)}`;
  if (Array.isArray(value)) return value.map(toJsonForm);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonForm(v)]));
  return value;
}

function fromJsonForm(value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith('bin:')) return Uint8Array.from(value.slice(4).match(/../g) ?? [], (byte) => parseInt(byte, 16));
  if (Array.isArray(value)) return value.map(fromJsonForm);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJsonForm(v)]));
  return value;
}

/** Compares bytes as hex, so a failure shows both sides readably. */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  expect(actual && toHex(actual), what).toBe(toHex(expected));
}

// ---------------------------------------------------------------------------- shared fixtures

/** An Ed25519 key pair from its 32-byte seed (the vectors use RFC 8032's test seeds); secret key = seed ‖ public key. */
function ed25519FromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return nacl.sign.keyPair.fromSeed(seed);
}

function authorIdentity(): SecretIdentity {
  const author = reader('author');
  const registry = reader('registry-auth');
  const keys = ed25519FromSeed(author.hex('seed'));
  const box = nacl.box.keyPair.fromSecretKey(registry.hex('box_secret'));
  return {
    peerId: derivePeerId(keys.publicKey),
    signingPublicKey: keys.publicKey,
    signingSecretKey: keys.secretKey,
    boxPublicKey: box.publicKey,
    boxSecretKey: box.secretKey,
    boxKeySignature: registry.hex('box_key_sig'),
  };
}

/** Links as the workstream sees them, recording what it sends. */
class RecordingBus extends RoutedBus {
  readonly sent: Array<{ to: string; message: { t: string } }> = [];
  async send(peerId: string, message: unknown): Promise<void> {
    this.sent.push({ to: peerId, message: message as { t: string } });
  }
  open(peerId: string): void {
    this.fire('open', peerId);
  }
  /** The encoded form of the first message of type t sent (waits for it). */
  async first(t: string): Promise<Uint8Array> {
    await vi.waitFor(() => expect(this.sent.some((s) => s.message.t === t), `no ${t} sent`).toBe(true), { timeout: 2000, interval: 5 });
    return encode(this.sent.find((s) => s.message.t === t)!.message);
  }
}

const ENTRY_VECTORS = ['entry-1', 'entry-2', 'entry-3', 'entry-4'];

/** A console (the author) holding entries 1–4 and the file of entry 4, linked with the peer of `signal-mac`'s `to`. */
async function authorConsole(entries: Reader[] = ENTRY_VECTORS.map((n) => reader(n))): Promise<{ ws: Workstream; bus: RecordingBus; peer: string; close(): void }> {
  const identity = authorIdentity();
  const store = new MemoryWorkstreamStore();
  await store.appendEntries(entries.map((e, i) => ({ b: e.hex('b'), s: e.hex('s'), author: identity.peerId, seq: i + 1 })));
  const file = reader('file-messages');
  const content = file.hex('content');
  await store.putChunk(toHex(sha256(content)), 0, content);
  const bus = new RecordingBus();
  const ws = await openWorkstream({
    project: 'demo',
    author: identity,
    signEntry: (b) => ed25519Sign(identity.signingSecretKey, signedMessage('workstreamEntry', b)),
    links: bus,
    maxFileBytes: () => 1024 * 1024,
    store,
  });
  const peer = reader('signal-mac').text('to');
  bus.open(peer);
  return { ws, bus, peer, close: () => ws.close() };
}

// ------------------------------------------------------------------------------------ checkers

type Checker = (v: Reader) => Promise<void>;

async function checkFrame(v: Reader): Promise<void> {
  const direction = v.text('direction');
  if (direction !== 'console → registry' && direction !== 'registry → console') throw new Error(`unknown direction ${direction}`);
  const decoded = direction === 'console → registry' ? decodeClientFrame(v.hex('hex')) : decodeServerFrame(v.hex('hex'));
  expect(decoded.ok, JSON.stringify(decoded)).toBe(true);
  if (!decoded.ok) return;
  expect(toJsonForm(decoded.frame)).toEqual(v.json('json'));
  expectBytes(encodeFrame(v.value('json') as ClientFrame | ServerFrame), v.hex('hex'), 'encoded frame');
}

const checkers: Record<string, Checker> = {
  // ---- docs/PROTOCOL.md
  'frame-ping': checkFrame,
  'frame-update-presence': checkFrame,
  'frame-error': checkFrame,
  async 'frame-peer-joined-agent'(v) {
    await checkFrame(v);
    // The keys and signature are those of `registry-auth`: a consistent PeerInfo.
    const auth = reader('registry-auth');
    const { peer } = v.value('json') as Extract<ServerFrame, { type: 'peer_joined' }>;
    expect(peer.peer_id).toBe(auth.text('peer_id'));
    expect(peer.signing_key).toEqual(auth.hex('signing_key'));
    expect(peer.box_key).toEqual(auth.hex('box_key'));
    expect(peer.box_key_sig).toEqual(auth.hex('box_key_sig'));
  },
  async 'frame-welcome'(v) {
    await checkFrame(v);
    // What `wsp-registry` hands out: its default STUN server, and the default limits.
    const cli = readFileSync(join(ROOT, 'src-main/registry/cli.ts'), 'utf8');
    const stun = /const DEFAULT_STUN_URL = '([^']+)'/.exec(cli)?.[1];
    expect(stun, 'DEFAULT_STUN_URL in src-main/registry/cli.ts').toBeDefined();
    const welcome = v.value('json') as Extract<ServerFrame, { type: 'welcome' }>;
    expect(welcome.ice_servers).toEqual(iceServersFor(welcome.peer_id, [stun!], undefined, 0).servers);
    expect(welcome.limits).toEqual({ max_frame_bytes: DEFAULT_LIMITS.maxFrameBytes, frames_per_second: DEFAULT_LIMITS.framesPerSecond, burst: DEFAULT_LIMITS.burst, heartbeat_ms: DEFAULT_LIMITS.heartbeatMs });
  },
  async 'frame-nil-refused'(v) {
    const decoded = decodeServerFrame(v.hex('refused'));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.code).toBe(v.text('error'));
    // the same frame without the nil field is fine
    const withoutNil = decode(v.hex('refused')) as Record<string, unknown>;
    expect(Object.entries(withoutNil).filter(([, value]) => value === null).map(([k]) => k)).toEqual([v.text('nil_field')]);
    delete withoutNil[v.text('nil_field')];
    expect(decodeServerFrame(encode(withoutNil)).ok).toBe(true);
  },
  async 'registry-auth'(v) {
    const keys = ed25519FromSeed(v.hex('signing_seed'));
    expectBytes(keys.publicKey, v.hex('signing_key'), 'signing_key');
    expect(derivePeerId(keys.publicKey)).toBe(v.text('peer_id'));
    expectBytes(nacl.box.keyPair.fromSecretKey(v.hex('box_secret')).publicKey, v.hex('box_key'), 'box_key');
    const nonceSigned = signedMessage('registryAuth', v.hex('nonce'));
    expectBytes(nonceSigned, v.hex('nonce_signed'), 'nonce_signed');
    expectBytes(await ed25519Sign(keys.secretKey, nonceSigned), v.hex('nonce_sig'), 'nonce_sig');
    const boxSigned = signedMessage('boxKey', v.hex('box_key'));
    expectBytes(boxSigned, v.hex('box_key_signed'), 'box_key_signed');
    expectBytes(await ed25519Sign(keys.secretKey, boxSigned), v.hex('box_key_sig'), 'box_key_sig');
    expect(await verifyPublicIdentity({ peerId: v.text('peer_id'), signingPublicKey: keys.publicKey, boxPublicKey: v.hex('box_key'), boxKeySignature: v.hex('box_key_sig') })).toBe(true);
  },
  async 'registry-hello'(v) {
    const auth = reader('registry-auth');
    const keys = ed25519FromSeed(auth.hex('signing_seed'));
    const at = Number(v.text('early_at'));
    const salt = v.hex('early_salt');
    const signed = signedMessage('registryHello', earlyHelloPayload(at, salt));
    expectBytes(signed, v.hex('payload_signed'), 'payload_signed');
    const signature = await ed25519Sign(keys.secretKey, signed);
    expectBytes(signature, v.hex('nonce_sig'), 'nonce_sig');
    const hello: EarlyHelloFrame = {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      invite: v.text('invite'),
      display_name: v.text('display_name'),
      signing_key: keys.publicKey,
      box_key: auth.hex('box_key'),
      box_key_sig: auth.hex('box_key_sig'),
      nonce_sig: signature,
      early_at: at,
      early_salt: salt,
    };
    const offered = v.text('subprotocols').replace(/\s+/g, '');
    expect(earlyHelloProtocols(hello).join(',')).toBe(offered);
    const read = readEarlyHello(offered);
    expect(read?.ok && toJsonForm(read.frame)).toEqual(toJsonForm(hello));
  },

  // ---- docs/PEER-PROTOCOL.md
  async 'session-certificate'(v) {
    const identity = ed25519FromSeed(v.hex('identity_seed'));
    expectBytes(identity.publicKey, v.hex('identity_key'), 'identity_key');
    expectBytes(ed25519FromSeed(v.hex('sign_seed')).publicKey, v.hex('sign_key'), 'sign_key');
    expectBytes(nacl.box.keyPair.fromSecretKey(v.hex('box_secret')).publicKey, v.hex('box_key'), 'box_key');
    const body = certificateBody(v.hex('sign_key'), v.hex('box_key'), v.int('started_at'));
    expectBytes(body, v.hex('body'), 'body');
    expectBytes(signedMessage('sessionKey', body), v.hex('signed'), 'signed');
    expectBytes(await ed25519Sign(identity.secretKey, v.hex('signed')), v.hex('sig'), 'sig');
    const certificate = { signKey: v.hex('sign_key'), boxKey: v.hex('box_key'), startedAt: v.int('started_at'), signature: v.hex('sig') };
    expectBytes(encodeCertificate(certificate), v.hex('session_cert'), 'session_cert');
    expect(decodeCertificate(v.hex('session_cert'))).toEqual(certificate);
    expect(await verifyCertificate(certificate, identity.publicKey)).toBe(true);
  },
  async 'signal-key'(v) {
    const own = nacl.box.keyPair.fromSecretKey(v.hex('own_box_secret'));
    const peer = nacl.box.keyPair.fromSecretKey(v.hex('peer_box_secret'));
    expectBytes(own.publicKey, v.hex('own_box_key'), 'own_box_key');
    expectBytes(peer.publicKey, v.hex('peer_box_key'), 'peer_box_key');
    expectBytes(await x25519(own.secretKey, peer.publicKey), v.hex('shared'), 'shared');
    expectBytes(concatBytes(new TextEncoder().encode('wsp/v1/signal-key\0'), v.hex('lower'), v.hex('higher')), v.hex('info'), 'info');
    expect(new Set([toHex(v.hex('lower')), toHex(v.hex('higher'))])).toEqual(new Set([toHex(own.publicKey), toHex(peer.publicKey)]));
    expectBytes(hkdf(sha256, v.hex('shared'), v.hex('salt'), v.hex('info'), 32), v.hex('key'), 'key (HKDF with the salt given)');
    // The code: each side from its own secret and the other's certificate.
    const cert = (boxKey: Uint8Array) => ({ signKey: new Uint8Array(32), boxKey, startedAt: 0, signature: new Uint8Array(64) });
    const secrets = (pair: nacl.BoxKeyPair): SessionSecrets => ({ certificate: cert(pair.publicKey), signSecretKey: new Uint8Array(64), boxSecretKey: pair.secretKey });
    expectBytes((await deriveSignalKey(secrets(own), cert(peer.publicKey)))?.key, v.hex('key'), 'key (own side)');
    expectBytes((await deriveSignalKey(secrets(peer), cert(own.publicKey)))?.key, v.hex('key'), 'key (peer side)');
  },
  async 'signal-mac'(v) {
    const body = v.hex('body');
    expect(toJsonForm(decodeLinkSignal(body))).toEqual(v.json('body_json'));
    expectBytes(encodeLinkSignal(v.value('body_json') as LinkSignal), body, 'body');
    const signalKey = reader('signal-key');
    expectBytes(recipientKeyId(signalKey.hex('peer_box_key')), v.hex('to_key'), 'to_key: the recipient session box key, first 8 bytes');
    const input = signalMacBytes(v.text('type'), v.text('from'), v.text('to'), v.text('project'), v.int('seq'), v.hex('to_key'), body);
    expectBytes(input, v.hex('mac_input'), 'mac_input');
    const key = { key: signalKey.hex('key'), peerBoxKey: signalKey.hex('peer_box_key') };
    expectBytes(signalMac(key, input), v.hex('mac'), 'mac');
    expectBytes(hmac(sha256, signalKey.hex('key'), v.hex('mac_input')), v.hex('mac'), 'mac (HMAC-SHA256 of mac_input)');
    // The whole payload: the sender's certificate (session-certificate), seq, body, to_key, mac.
    const c = reader('session-certificate');
    const certificate = { signKey: c.hex('sign_key'), boxKey: c.hex('box_key'), startedAt: c.int('started_at'), signature: c.hex('sig') };
    expectBytes(encodeEnvelope({ certificate, seq: v.int('seq'), body, auth: { mac: v.hex('mac'), recipientKeyId: v.hex('to_key') } }), v.hex('envelope'), 'envelope');
    const decoded = decodeEnvelope(v.hex('envelope'));
    if ('error' in decoded) throw new Error(decoded.error);
    expect(decoded.certificate).toEqual(certificate);
    expect(signalMacValid(key, signalMacBytes(v.text('type'), v.text('from'), v.text('to'), v.text('project'), decoded.seq, v.hex('to_key'), decoded.body), v.hex('mac'))).toBe(true);
    expect(v.text('from')).toBe(reader('author').text('peer_id'));
    expect(derivePeerId(ed25519FromSeed(v.hex('to_identity_seed')).publicKey)).toBe(v.text('to'));
  },
  async 'signal-signature'(v) {
    const m = reader('signal-mac');
    const signed = signalSignedBytes(m.text('type'), m.text('from'), m.text('to'), m.text('project'), m.int('seq'), m.hex('body'));
    expectBytes(signed, v.hex('signed'), 'signed');
    const session = ed25519FromSeed(reader('session-certificate').hex('sign_seed'));
    expectBytes(await ed25519Sign(session.secretKey, v.hex('signed')), v.hex('sig'), 'sig');
    expect(await ed25519Verify(session.publicKey, signed, v.hex('sig'))).toBe(true);
  },
  async 'stream-frames'(v) {
    // What a stream sends for a 3-byte message, and what the receiver acknowledges.
    const sent: Uint8Array[] = [];
    const timers: Array<() => void> = [];
    const path = (into: Uint8Array[]): StreamPath => ({ id: 'test', maxFrameBytes: 1 << 20, canSend: () => true, send: (f) => void into.push(f.slice()) });
    const options = { setTimer: (fn: () => void) => timers.push(fn), clearTimer: () => undefined };
    const sender = new ReliableStream(options);
    sender.setPath(path(sent));
    await sender.send(v.hex('message'));
    expectBytes(sent[0], v.hex('data'), 'DATA frame');
    expect(toJsonForm(decodeStreamFrame(v.hex('data')))).toEqual({ ok: true, frame: v.json('data_json') });
    const acks: Uint8Array[] = [];
    const receiver = new ReliableStream(options);
    receiver.setPath(path(acks));
    const received: Uint8Array[] = [];
    receiver.on('message', (m) => received.push(m));
    receiver.receive(v.hex('data'), 'test');
    expectBytes(received[0], v.hex('message'), 'delivered message');
    for (const fire of timers.splice(0)) fire();
    expectBytes(acks[0], v.hex('ack'), 'ACK frame');
    expect(toJsonForm(decodeStreamFrame(v.hex('ack')))).toEqual({ ok: true, frame: v.json('ack_json') });
    const refused = decodeStreamFrame(v.hex('refused'));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.message).toBe(v.text('error'));
    sender.close();
    receiver.close();
  },
  async 'datachannel-whole'(v) {
    await checkDataChannel(v, ['message']);
  },
  async 'datachannel-fragments'(v) {
    await checkDataChannel(v, ['message_1', 'message_2', 'message_3']);
  },
  async 'app-message'(v) {
    const envelope = encode([0, v.value('json')]);
    expectBytes(envelope, v.hex('envelope'), 'link envelope [0, message]');
    const sent: Uint8Array[] = [];
    const stream = new ReliableStream({ setTimer: () => 0, clearTimer: () => undefined });
    stream.setPath({ id: 'test', maxFrameBytes: 1 << 20, canSend: () => true, send: (f) => void sent.push(f.slice()) });
    await stream.send(envelope);
    stream.close();
    expectBytes(sent[0], v.hex('data_frame'), 'DATA frame');
    const channel = new FakeChannel();
    new DataChannelPath(channel as unknown as RTCDataChannel, 262_144, 1 << 20).send(v.hex('data_frame'));
    expectBytes(channel.sent[0], v.hex('datachannel_message'), 'DataChannel message');
    const plaintext = encodeRelayFrame(v.int('from_link'), v.int('to_link'), v.hex('data_frame'));
    expectBytes(plaintext, v.hex('relay_plaintext'), 'relay plaintext');
    const sender = nacl.box.keyPair.fromSecretKey(v.hex('sender_box_secret'));
    const recipient = nacl.box.keyPair.fromSecretKey(v.hex('recipient_box_secret'));
    const randomBytes = vi.spyOn(nacl, 'randomBytes').mockReturnValueOnce(v.hex('nonce'));
    expectBytes(new RelaySeal(sender.publicKey, sender.secretKey, recipient.publicKey).seal(v.hex('relay_plaintext')), v.hex('relay_blob'), 'relay blob');
    randomBytes.mockRestore();
    const opened = new RelaySeal(recipient.publicKey, recipient.secretKey, sender.publicKey).open(v.hex('relay_blob'));
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const addressed = decodeRelayFrame(opened.plaintext);
    expect(addressed).toEqual({ from: v.int('from_link'), to: v.int('to_link'), frame: expect.anything() });
    if ('error' in addressed) return;
    expectBytes(addressed.frame, v.hex('data_frame'), 'frame inside the relay blob');
  },

  // ---- docs/WORKSTREAM.md
  async author(v) {
    const keys = ed25519FromSeed(v.hex('seed'));
    expectBytes(keys.publicKey, v.hex('key'), 'key');
    expect(derivePeerId(keys.publicKey)).toBe(v.text('peer_id'));
  },
  'entry-1': checkEntryVector,
  'entry-2': checkEntryVector,
  'entry-3': checkEntryVector,
  'entry-4': checkEntryVector,
  async 'entry-chain'(v) {
    const author = reader('author');
    const [b5, b6, s6] = [v.hex('b5'), v.hex('b6'), v.hex('s6')];
    expect(toJsonForm(decode(b5))).toEqual(v.json('json5'));
    const [, project, authorKey, seq, ts, kind, ref, body, prev] = v.value('json5') as [number, string, Uint8Array, number, number, string, string | null, unknown, Uint8Array];
    expectBytes(prev, v.hex('prev5'), 'prev in entry 5');
    expectBytes(entryHash(reader('entry-4').hex('b')), v.hex('prev5'), 'prev5 = SHA-256(b4)');
    expectBytes(encodeEntryBody({ project, authorKey, seq, ts, kind, ref, body, prev }), b5, 'b5');
    expectBytes(entryHash(b5), v.hex('prev6'), 'prev6 = SHA-256(b5)');
    const six = decode(b6) as unknown[];
    expect(six.slice(0, 4)).toEqual([2, project, authorKey, 6]);
    expectBytes(six[8] as Uint8Array, v.hex('prev6'), 'prev in entry 6');
    expectBytes(await ed25519Sign(ed25519FromSeed(author.hex('seed')).secretKey, signedMessage('workstreamEntry', b6)), s6, 's6');
    expectBytes(encode({ t: 'ws-entries', project, entries: [{ b: b5 }, { b: b6, s: s6 }] }), v.hex('message'), 'message');
    // One signature check takes both; entry 5 alone is refused.
    const { entries } = decode(v.hex('message')) as { entries: unknown[] };
    const both = await verifyRuns(entries, project, () => false);
    expect(both.problems).toEqual([]);
    expect(both.runs.map((run) => run.map((e) => e.id))).toEqual([[`${author.text('peer_id')}:5`, `${author.text('peer_id')}:6`]]);
    expect((await verifyRuns(entries.slice(0, 1), project, () => false)).problems.map((p) => p.code)).toEqual(['MALFORMED_ENTRY']);
    // A console holding entries 1–4 takes them on after entry 4.
    const { ws, bus, peer, close } = await authorConsole();
    try {
      bus.deliver(peer, decode(v.hex('message')));
      await vi.waitFor(() => expect(ws.log.size).toBe(6), { timeout: 2000, interval: 5 });
    } finally {
      close();
    }
  },
  async 'chain-digests'(v) {
    const store = new MemoryWorkstreamStore();
    const author = reader('author').text('peer_id');
    await store.appendEntries(ENTRY_VECTORS.map((n, i) => ({ b: reader(n).hex('b'), s: reader(n).hex('s'), author, seq: i + 1 })));
    const log = new WorkstreamLog('demo', store);
    await log.load();
    let previous: Uint8Array = new Uint8Array(0);
    for (let seq = 1; seq <= ENTRY_VECTORS.length; seq++) {
      expectBytes(log.chainDigest(author, seq), v.hex(`d${seq}`), `d${seq} (the log)`);
      previous = sha256(concatBytes(previous, reader(`entry-${seq}`).hex('b'))).subarray(0, 16);
      expectBytes(previous, v.hex(`d${seq}`), `d${seq} = SHA-256(d${seq - 1} ‖ b${seq})[0..16]`);
    }
  },
  async 'ws-hello'(v) {
    const { bus, close } = await authorConsole();
    try {
      expectBytes(await bus.first('ws-hello'), v.hex('hex'), 'ws-hello as sent on link open');
      expect(toJsonForm(decode(v.hex('hex')))).toEqual(v.json('json'));
    } finally {
      close();
    }
  },
  async 'ws-have'(v) {
    const { bus, peer, close } = await authorConsole();
    try {
      const entry = reader('entry-4');
      bus.deliver(peer, { t: 'ws-entries', project: 'demo', entries: [{ b: entry.hex('b'), s: entry.hex('s') }] });
      expectBytes(await bus.first('ws-have'), v.hex('hex'), 'ws-have after ws-entries');
      expect(toJsonForm(decode(v.hex('hex')))).toEqual(v.json('json'));
    } finally {
      close();
    }
  },
  async 'file-messages'(v) {
    const content = v.hex('content');
    const entry = decode(reader('entry-4').hex('b')) as unknown[];
    const body = entry[7] as FileBody;
    expectBytes(body.sha256, sha256(content), 'entry-4 body.sha256 = SHA-256(content)');
    // Sharing the content makes the same file body (sha256 and chunk hashes as bin).
    const sharer = await authorConsole([]);
    try {
      const shared = await sharer.ws.share(new Blob([content]), body.name);
      expect(toJsonForm(shared.body)).toEqual(toJsonForm(body));
    } finally {
      sharer.close();
    }
    const { bus, peer, close } = await authorConsole();
    try {
      expectBytes(await bus.first('ws-file-have'), v.hex('have'), 'ws-file-have on link open');
      bus.deliver(peer, decode(v.hex('get')));
      expectBytes(await bus.first('ws-file-chunk'), v.hex('chunk'), 'ws-file-chunk');
      expectBytes(await bus.first('ws-file-missing'), v.hex('missing'), 'ws-file-missing');
      for (const key of ['have', 'get', 'chunk', 'missing']) expect(toJsonForm(decode(v.hex(key))), key).toEqual(v.json(`${key}_json`));
      expect((v.json('get_json') as { sha: string }).sha).toBe(toHex(body.sha256));
    } finally {
      close();
    }
  },
};

/** The parts of an RTCDataChannel a DataChannelPath touches; send() keeps a copy of every message. */
class FakeChannel {
  readyState: RTCDataChannelState = 'open';
  bufferedAmount = 0;
  binaryType: BinaryType = 'blob';
  bufferedAmountLowThreshold = 0;
  readonly sent: Uint8Array[] = [];
  send(data: Uint8Array): void {
    this.sent.push(new Uint8Array(data));
  }
}

async function checkDataChannel(v: Reader, messages: string[]): Promise<void> {
  const channel = new FakeChannel();
  const path = new DataChannelPath(channel as unknown as RTCDataChannel, v.int('max_message_size'), 1 << 20);
  path.send(v.hex('frame'));
  expect(channel.sent.map(toHex)).toEqual(messages.map((m) => toHex(v.hex(m))));
  const receiver = new DataChannelPath(new FakeChannel() as unknown as RTCDataChannel, v.int('max_message_size'), 1 << 20);
  const results = messages.map((m) => receiver.receive(v.hex(m).slice().buffer));
  expect(results.slice(0, -1)).toEqual(messages.slice(1).map(() => undefined));
  expectBytes(results.at(-1) as Uint8Array, v.hex('frame'), 'reassembled frame');
}

async function checkEntryVector(v: Reader): Promise<void> {
  const author = reader('author');
  const b = v.hex('b');
  expect(toJsonForm(decode(b))).toEqual(v.json('json'));
  const [, project, authorKey, seq, ts, kind, ref, body] = v.value('json') as [number, string, Uint8Array, number, number, string, string | null, unknown];
  expectBytes(authorKey, author.hex('key'), 'author key');
  expectBytes(encodeEntryBody({ project, authorKey, seq, ts, kind, ref, body }), b, 'b');
  expectBytes(signedMessage('workstreamEntry', b), v.hex('signed'), 'signed');
  expectBytes(await ed25519Sign(ed25519FromSeed(author.hex('seed')).secretKey, v.hex('signed')), v.hex('s'), 's');
  const checked = await checkEntry({ b, s: v.hex('s') }, project);
  expect(checked.ok, JSON.stringify(checked)).toBe(true);
  if (checked.ok) expect(checked.entry.id).toBe(v.text('id'));
}

// ---------------------------------------------------------------------------------------- tests

afterEach(() => {
  vi.restoreAllMocks();
});

describe('protocol test vectors in the docs', () => {
  it('every vector has a checker, and every checker a vector', () => {
    const names = allVectors.map((v) => v.name);
    expect(new Set(names).size, 'duplicate vector names').toBe(names.length);
    expect(new Set(names)).toEqual(new Set(Object.keys(checkers)));
  });

  for (const vector of allVectors) {
    it(`${vector.doc}: ${vector.name}`, async () => {
      await checkers[vector.name]!(new Reader(vector.name, vector.fields));
    });
  }

  // The checks must cover what the docs say: change any value, and the vector must fail.
  for (const vector of allVectors) {
    it(`${vector.doc}: ${vector.name} fails with any one value changed`, async () => {
      for (const key of vector.fields.keys()) {
        if (key === 'refused' || UNALTERABLE.has(`${vector.name}.${key}`)) continue;
        const fields = new Map(vector.fields);
        fields.set(key, alter(vector.fields.get(key)!));
        byName.set(vector.name, { ...vector, fields });
        try {
          await expect(checkers[vector.name]!(new Reader(vector.name, fields)), `${vector.name}: ${key} changed`).rejects.toThrow();
        } finally {
          byName.set(vector.name, vector);
        }
      }
    }, 60_000);
  }
});

/** What the docs say around the vectors: what a peer may leave out, and what it must not send. */
describe('around the workstream vectors', () => {
  it('docs/WORKSTREAM.md: a ws-hello without `chains` replicates all the same (the console sends what the peer lacks)', async () => {
    const { ws, bus, peer, close } = await authorConsole();
    try {
      const problems: string[] = [];
      ws.onProblem((p) => problems.push(p.code));
      bus.deliver(peer, { t: 'ws-hello', project: 'demo', heads: {} }); // neither chains nor links
      const entries = decode(await bus.first('ws-entries')) as { entries: Array<{ b: Uint8Array }> };
      expect(entries.entries.map((e) => toHex(e.b))).toEqual(ENTRY_VECTORS.map((n) => toHex(reader(n).hex('b'))));
      expect(problems).toEqual([]);
    } finally {
      close();
    }
  });

  it('docs/WORKSTREAM.md: a ws-file-get whose `sha` is upper-case hex, or the 32 bytes as bin, is MALFORMED_MESSAGE and gets no chunk', async () => {
    const { ws, bus, peer, close } = await authorConsole();
    try {
      const problems: string[] = [];
      ws.onProblem((p) => problems.push(p.code));
      const get = reader('file-messages').value('get_json') as { sha: string };
      bus.deliver(peer, { ...get, sha: get.sha.toUpperCase() });
      bus.deliver(peer, { ...get, sha: fromJsonForm(`bin:${get.sha}`) });
      await vi.waitFor(() => expect(problems).toEqual(['MALFORMED_MESSAGE', 'MALFORMED_MESSAGE']), { timeout: 2000, interval: 5 });
      bus.deliver(peer, get); // the control: the same request as the docs write it is answered
      await bus.first('ws-file-chunk');
      expect(bus.sent.filter((s) => s.message.t === 'ws-file-chunk')).toHaveLength(1);
    } finally {
      close();
    }
  });
});

/**
 * Values a change need not break: a `refused` input stays refused when altered, and a larger
 * maxMessageSize sends a frame that fits whole all the same.
 */
const UNALTERABLE = new Set(['datachannel-whole.max_message_size']);

/** The value with its last letter or digit changed (a hex digit stays a hex digit). */
function alter(value: string): string {
  const i = value.search(/[0-9A-Za-z][^0-9A-Za-z]*$/);
  if (i < 0) return `${value}x`;
  const c = value[i]!;
  const next = /[0-9a-f]/.test(c) ? '0123456789abcdef'['0123456789abcdef'.indexOf(c) + 1] ?? '0' : c === 'z' ? 'a' : c === 'Z' ? 'A' : String.fromCharCode(c.charCodeAt(0) + 1);
  return value.slice(0, i) + next + value.slice(i + 1);
}
