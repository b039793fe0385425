/**
 * Workstream harness: a console (real engine, real IndexedDB, no GUI) that can leave and come
 * back with the same identity, and that can misbehave on purpose. Exposed as `window.wsHarness`.
 * It opens its console as the product does (openConsole: links, workstream, link-states sharing),
 * with an in-memory host: no trust storage, so it links with every console (or `onlyLinkTo`).
 */
import { encode } from '@msgpack/msgpack';
import { createEd25519Signer, createIdentity, derivePeerId, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { parseInvite } from '../../../src-shared/invite';
import { toHex } from '../../../src-shared/bytes';
import type { ClientInfo, PeerInfo } from '../../../src-shared/protocol/signaling';
import { openConsole, type ConsoleEngine } from '../../../src-renderer/engine/console';
import type { LinkConfig } from '../../../src-renderer/engine/link/peer-link';
import type { BackoffPolicy } from '../../../src-renderer/engine/backoff';
import type { Workstream, WorkstreamProblem } from '../../../src-renderer/engine/workstream/workstream';
import { openIndexedDbStore } from '../../../src-renderer/engine/workstream/workstream-store';
import { encodeEntryBody } from '../../../src-shared/workstream/entry';
import { entryHash, MAX_RUN_ENTRIES, verifyRuns } from '../../../src-shared/workstream/chain';
import { testChannel, TEST_MESSAGE } from '../../support/link-bus';

let identity: SecretIdentity | undefined;
let session: ConsoleEngine | undefined;
let ws: Workstream | undefined;
let maxFileBytes = 1024 * 1024 * 1024;
const problems: WorkstreamProblem[] = [];
let signer: ((message: Uint8Array) => Promise<Uint8Array>) | undefined;
const sign = (b: Uint8Array) => (signer ??= createEd25519Signer(identity!.signingSecretKey))(signedMessage('workstreamEntry', b));
const now = () => performance.timeOrigin + performance.now();
/** Benchmarks: when this console first held `n` entries, and `n` raw messages (epoch ms). */
let sizeTarget: { n: number; at?: number } | undefined;
let rawTarget: { n: number; at?: number } | undefined;
let rawCount = 0;
let posting: { timer: ReturnType<typeof setInterval>; count: number } | undefined;
const IDENTITY_KEY = 'wsHarness.identity';
/** What each peer said it is in presence (null: nothing, an older console). */
const peerClients = new Map<string, ClientInfo | null>();

/** The identity kept in this tab's sessionStorage, so a reload comes back as the same console. */
async function tabIdentity(): Promise<SecretIdentity> {
  const saved = sessionStorage.getItem(IDENTITY_KEY);
  if (saved) {
    const keys = JSON.parse(saved) as Record<string, number[]>;
    const bytes = (k: string) => new Uint8Array(keys[k]!);
    return { peerId: derivePeerId(bytes('signingPublicKey')), signingPublicKey: bytes('signingPublicKey'), signingSecretKey: bytes('signingSecretKey'), boxPublicKey: bytes('boxPublicKey'), boxSecretKey: bytes('boxSecretKey'), boxKeySignature: bytes('boxKeySignature') };
  }
  const made = await createIdentity();
  const { peerId: _peerId, ...keys } = made;
  sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, [...v]]))));
  return made;
}

const wsHarness = {
  /** Joins (again) with the same identity; the workstream is loaded from IndexedDB. */
  async join(link: string, name: string, options: { onlyLinkTo?: string[]; config?: Partial<LinkConfig>; backoff?: BackoffPolicy; keepIdentityAcrossReload?: boolean; productBackoff?: boolean; client?: ClientInfo } = {}): Promise<string> {
    identity ??= options.keepIdentityAcrossReload ? await tabIdentity() : await createIdentity();
    const invite = parseInvite(link);
    const secret = identity;
    session = await openConsole(
      {
        identity: { peerId: secret.peerId, signingPublicKey: secret.signingPublicKey, boxPublicKey: secret.boxPublicKey, boxKeySignature: secret.boxKeySignature },
        signChallenge: (nonce) => ed25519Sign(secret.signingSecretKey, signedMessage('registryAuth', nonce)),
        signEarlyHello: (payload) => ed25519Sign(secret.signingSecretKey, signedMessage('registryHello', payload)),
        certifySession: (body) => ed25519Sign(secret.signingSecretKey, signedMessage('sessionKey', body)),
        signEntry: sign,
      },
      {
        invite,
        displayName: name,
        ...(options.client ? { client: options.client } : {}),
        maxFileBytes: () => maxFileBytes,
        store: await openIndexedDbStore(invite.claims.project),
        ...(options.productBackoff ? {} : { backoff: options.backoff ?? { baseMs: 200, maxMs: 1000 } }),
        ...(options.config ? { linkConfig: options.config } : {}),
        ...(options.onlyLinkTo ? { admit: (peer: PeerInfo) => options.onlyLinkTo!.includes(peer.peer_id) } : {}),
      },
    );
    if (!session.workstream) {
      session.close();
      throw new Error(`the workstream could not be opened: ${session.workstreamError}`);
    }
    ws = session.workstream;
    ws.onProblem((p) => problems.push(p));
    const log = ws.log;
    log.on('added', () => {
      if (sizeTarget && sizeTarget.at === undefined && log.size >= sizeTarget.n) sizeTarget.at = now();
    });
    testChannel(session.links, () => {
      rawCount++;
      if (rawTarget && rawTarget.at === undefined && rawCount >= rawTarget.n) rawTarget.at = now();
    });
    session.client.on('welcome', (welcome) => welcome.peers.forEach((p) => peerClients.set(p.peer_id, p.client ?? null)));
    session.client.on('peer_joined', (p) => peerClients.set(p.peer_id, p.client ?? null));
    session.start();
    return identity.peerId;
  },

  /** Goes offline: registry and links closed; what the workstream holds stays in IndexedDB. */
  /** What a peer said it is in presence: null for nothing, undefined for a peer not seen. */
  peerClient(peerId: string): ClientInfo | null | undefined {
    return peerClients.get(peerId);
  },

  leave(): void {
    session?.close();
    ws = undefined;
    session = undefined;
  },

  registryPhase: () => session?.client.state.phase ?? 'none',
  linkStates: () => Object.fromEntries(session!.links.snapshots().map((s) => [s.peerId, s.state])),
  /** The link's path as the console reports it (from getStats), and its history. */
  linkPath: (peerId: string) => session!.links.snapshot(peerId)?.path,
  linkHistory: (peerId: string) => session!.links.snapshot(peerId)?.history ?? [],
  /** Each link's snapshot (state, counters, history), for a test to show when it fails. */
  linkSnapshots: () => session!.links.snapshots(),
  forceRelay: (peerId: string, on: boolean) => session!.links.forceRelay(peerId, on),
  setMaxFileBytes: (bytes: number) => void (maxFileBytes = bytes),

  /** Posts `count` messages as a busy console would: all at once, in order. */
  async post(count: number, prefix: string): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, i) => ws!.post('message', { text: `${prefix} ${i}` })));
  },
  /** Posts one message every `everyMs` until stopPosting (posts made while offline sync later). */
  startPosting(everyMs: number, prefix: string): void {
    clearInterval(posting?.timer);
    const state = { count: 0, timer: setInterval(() => void ws?.post('message', { text: `${prefix} ${++state.count}` }), everyMs) };
    posting = state;
  },
  stopPosting: () => clearInterval(posting?.timer),
  /** Posts one message now; its entry id. */
  postOne: async (text: string): Promise<string> => (await ws!.post('message', { text })).id,
  has: (entryId: string) => ws?.log.entries().some((e) => e.id === entryId) ?? false,
  /** Entry ids in the order this console shows them. */
  ids: () => ws!.log.entries().map((e) => e.id),
  size: () => ws?.log.size ?? 0,
  problems: () => problems.map(({ code, message, from }) => ({ code, message, from })),
  equivocators: () => [...(ws?.log.equivocators ?? [])],

  /**
   * What IndexedDB holds for a project, checked: how many, whether every one is covered by a
   * signature that verifies, and whether each author's entries run 1..n without a hole.
   */
  async storedCheck(project: string): Promise<{ count: number; allValid: boolean; contiguous: boolean }> {
    const store = await openIndexedDbStore(project);
    const rows = await store.loadEntries();
    store.close();
    // Every stored entry is covered by a signature that verifies (its own or a later one's, chain.ts).
    const { runs, problems } = await verifyRuns(rows, project, () => false);
    const seqs = new Map<string, number[]>();
    for (const e of runs.flat()) seqs.set(e.author, [...(seqs.get(e.author) ?? []), e.seq]);
    const contiguous = [...seqs.values()].every((list) => list.sort((x, y) => x - y).every((seq, i) => seq === i + 1));
    return { count: rows.length, allValid: problems.length === 0 && runs.flat().length === rows.length, contiguous };
  },

  // --- benchmarks ------------------------------------------------------------------------------------
  now,
  /** Records when this console holds `n` entries (read with sizeReachedAt). */
  watchSize(n: number): void {
    sizeTarget = { n, ...(ws && ws.log.size >= n ? { at: now() } : {}) };
  },
  sizeReachedAt: () => sizeTarget?.at ?? null,
  /** Writes `count` entries of this console's own at once, as if posted earlier (catch-up benchmarks). */
  async seed(count: number, text: string): Promise<void> {
    // As if posted one at a time: a chain (see chain.ts) whose every entry carries its signature,
    // taken a message's worth at a time as from a peer.
    const project = ws!.log.project;
    const author = identity!.peerId;
    let previous = ws!.log.get(`${author}:${ws!.log.highWaterMarks()[author] ?? 0}`)?.signed.b;
    for (let start = (ws!.log.highWaterMarks()[author] ?? 0) + 1, left = count; left > 0; ) {
      const batch = Math.min(MAX_RUN_ENTRIES, left);
      const bodies: Uint8Array[] = [];
      for (let i = 0; i < batch; i++) {
        const b = encodeEntryBody({ project, authorKey: identity!.signingPublicKey, seq: start + i, ts: Date.now(), kind: 'message', body: { text }, prev: previous ? entryHash(previous) : null });
        bodies.push(b);
        previous = b;
      }
      await ws!.log.ingest(await Promise.all(bodies.map(async (b) => ({ b, s: await sign(b) }))));
      start += batch;
      left -= batch;
    }
  },
  /** The baseline: `count` plain messages of about the same size over the same link. */
  async sendRaw(peerId: string, count: number, text: string): Promise<void> {
    for (let i = 0; i < count; i++) await session!.links.send(peerId, { t: TEST_MESSAGE, i, text });
  },
  watchRaw(n: number): void {
    rawTarget = { n, ...(rawCount >= n ? { at: now() } : {}) };
  },
  rawReachedAt: () => rawTarget?.at ?? null,
  resetRaw: () => void ((rawCount = 0), (rawTarget = undefined)),
  rawCount: () => rawCount,

  // --- files ---------------------------------------------------------------------------------------
  /** Shares `bytes` of random content; returns the entry id and the content's SHA-256. */
  async shareRandom(bytes: number, name: string): Promise<{ entryId: string; sha: string }> {
    const data = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(bytes, i + 65536)));
    const sha = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
    const entry = await ws!.share(new Blob([data]), name);
    return { entryId: entry.id, sha };
  },
  /** Starts a download; its outcome is read with fileStatus (a test may interrupt it). */
  download(entryId: string): void {
    void ws!.files.download(entryId).catch((e: Error) => problems.push({ code: 'DOWNLOAD_FAILED', message: e.message, at: Date.now() }));
  },
  fileStatus: (entryId: string) => ws?.files.status(entryId),
  /** SHA-256 of the verified content, or null if it is not (all) here. */
  async fileSha(entryId: string): Promise<string | null> {
    const blob = await ws!.files.blob(entryId);
    return blob ? toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()))) : null;
  },

  // --- misbehaving ---------------------------------------------------------------------------------
  /**
   * Sends crafted entries of this console's identity straight to one peer: 'forged' (signed by
   * another key), 'malformed' (a message without text, validly signed), or a valid entry whose
   * text is `variant` (two variants with one sequence number = equivocation), dated `ts` (now by
   * default: a console with a clock of its own choosing can date an entry anything).
   */
  async sendCrafted(peerId: string, project: string, seq: number, variant: string, ts = Date.now()): Promise<void> {
    const entry = await wsHarness.craftEntry(project, seq, variant, ts);
    await session!.links.send(peerId, { t: 'ws-entries', project, entries: [entry] });
  },
  /** A crafted entry (see sendCrafted), signed and not sent: for a test to store it elsewhere. */
  async craftEntry(project: string, seq: number, variant: string, ts = Date.now()): Promise<{ b: Uint8Array; s: Uint8Array }> {
    const body = variant === 'malformed' ? { text: '' } : { text: variant };
    const b = encode([1, project, identity!.signingPublicKey, seq, ts, 'message', null, body]);
    const signer = variant === 'forged' ? (await createIdentity()).signingSecretKey : identity!.signingSecretKey;
    return { b, s: await ed25519Sign(signer, signedMessage('workstreamEntry', b)) };
  },
};

export type WsHarness = typeof wsHarness;
(window as unknown as { wsHarness: WsHarness }).wsHarness = wsHarness;
