/**
 * A headless agent: the same peer as a console, without a window. The renderer's engine (console
 * session, links, workstream, trust on first use) runs in Node with src-agent's WebRTC and
 * WebSocket glue, and keeps what makes it the same peer across runs in a data directory
 * (storage.ts).
 *
 *   const agent = await openAgent({ invite, name: 'build-bot', dataDir: '/var/lib/build-bot' });
 *   agent.on('entry', ({ entry }) => console.log(entry.kind, entry.body));
 *   await agent.post('build #42 passed');
 *   await agent.close();
 */
import { openAsBlob } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createEd25519Signer, createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../src-shared/identity';
import { parseInvite, type ParsedInvite } from '../src-shared/invite';
import type { PeerInfo } from '../src-shared/protocol/signaling';
import { AGENT_STATES, type Entry, type TaskBody } from '../src-shared/workstream/entry';
import { toHex } from '../src-shared/bytes';
import { openConsole, type ConsoleEngine, type ConsoleHost } from '../src-renderer/engine/console';
import { Emitter } from '../src-renderer/engine/emitter';
import type { LinkConfig } from '../src-renderer/engine/link/peer-link';
import type { RegistryState } from '../src-renderer/engine/signaling-client';
import { TrustBook } from '../src-renderer/engine/trust-book';
import type { Workstream } from '../src-renderer/engine/workstream/workstream';
import { nodePeerConnectionFactory } from './webrtc';
import { createNodeSocket } from './websocket';
import { AgentStorageError, FileWorkstreamStore, ensureDataDir, fileTrustStorage, loadIdentity, loadJoin, lockDataDir, saveIdentity, saveJoin } from './storage';

export { AgentStorageError } from './storage';

export interface AgentOptions {
  /** Where the agent keeps its identity, log, files, trust pins and invite. */
  dataDir: string;
  /** The invite link; needed the first time only (it is saved in the data directory). */
  invite?: string;
  /** The display name teammates see; defaults to the one saved at the first join. */
  name?: string;
  /** Gather WebRTC candidates on this address only (e.g. 127.0.0.1 on a machine with no other interface). */
  bindAddress?: string;
  /** Largest file shared or downloaded, in bytes (default 1 GiB). */
  maxFileBytes?: number;
  /** Link tuning (tests: blockDirect, fallbackAfterMs). @internal */
  linkConfig?: Partial<LinkConfig>;
}

export type AgentState = (typeof AGENT_STATES)[number];

// The library's declarations (out/main/wsp-agent.d.ts, tsconfig.agent-types.json) must compile for
// a Node program without the DOM library, so its public types do not import the engine modules
// that mention WebRTC's types: the link states and the problem are spelled out here (the engine's
// LinkState and WorkstreamProblem, checked equal in tests/unit/agent/library-types.test.ts), and
// members that expose the engine are marked internal (stripInternal leaves them out).

/** A link's state (the engine's LinkState: src-renderer/engine/link/link-state.ts). */
export type AgentLinkState = 'signaling' | 'checking' | 'direct' | 'turn' | 'relay' | 'closed';

/** An entry the workstream refused, or another problem it reports (the engine's WorkstreamProblem). */
export interface AgentProblem {
  code: string;
  message: string;
  /** The console it came from. */
  from?: string;
  at: number;
}

/** A teammate online (or held back) in the project. */
export interface AgentPeer {
  peerId: string;
  name: string;
  /** The link's state; 'held' = a known name with a new key, not linked until a person accepts it. */
  link: AgentLinkState | 'held' | 'none';
}

/** A task as its entries leave it (the same reading as the GUI's task list). */
export interface AgentTask {
  id: string;
  title: string;
  state: TaskBody['state'];
  progress?: number;
  owner?: string;
  updatedAt: number;
}

export type AgentEvents = {
  /** An entry new to this agent: its own, or one from a teammate (`from`); stored before it is announced. */
  entry: { entry: Entry; from?: string };
  /** A teammate came, went, or its link changed. */
  peer: AgentPeer & { event: 'joined' | 'left' | 'link' | 'held' };
  registry: RegistryState;
  problem: AgentProblem;
};

export interface AgentTasks {
  list(): AgentTask[];
  create(title: string): Promise<Entry>;
  claim(taskId: string, note?: string): Promise<Entry>;
  progress(taskId: string, percent: number, note?: string): Promise<Entry>;
  done(taskId: string, note?: string): Promise<Entry>;
}

const DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024;

/**
 * The agent's console: the engine's own assembly (openConsole, as the GUI's store and the test
 * harness use it), given a host over the data directory and Node's WebRTC and WebSocket.
 */
async function openAgentConsole(options: {
  invite: ParsedInvite;
  name: string;
  identity: SecretIdentity;
  store: FileWorkstreamStore;
  trust: TrustBook;
  bindAddress?: string;
  linkConfig?: Partial<LinkConfig>;
  maxFileBytes: number;
}): Promise<{ engine: ConsoleEngine; workstream: Workstream }> {
  const { identity } = options;
  const signWithIdentity = createEd25519Signer(identity.signingSecretKey); // the key imported once
  const host: ConsoleHost = {
    identity,
    signChallenge: (nonce) => ed25519Sign(identity.signingSecretKey, signedMessage('registryAuth', nonce)),
    signEarlyHello: (payload) => signWithIdentity(signedMessage('registryHello', payload)),
    certifySession: (body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)),
    signEntry: (body) => signWithIdentity(signedMessage('workstreamEntry', body)),
  };
  const engine = await openConsole(host, {
    invite: options.invite,
    displayName: options.name,
    // What presence shows the project: an agent (the GUI draws it as one), this software and version.
    client: { kind: 'agent', software: 'wsp-agent', version: __APP_VERSION__ },
    // Trust on first use, as the GUI: new consoles pinned, a known name with a new key held.
    trust: options.trust,
    maxFileBytes: () => options.maxFileBytes,
    store: options.store,
    createSocket: createNodeSocket,
    createPeerConnection: nodePeerConnectionFactory(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
    prepareConnections: false, // see LinkManagerOptions.prepareConnections
    beginConnectionEarly: false, // and LinkManagerOptions.beginConnectionEarly
    ...(options.linkConfig ? { linkConfig: options.linkConfig } : {}),
  });
  if (!engine.workstream) {
    engine.close();
    throw new AgentStorageError(`the workstream in the data directory could not be opened: ${engine.workstreamError}`);
  }
  return { engine, workstream: engine.workstream };
}

export class Agent extends Emitter<AgentEvents> {
  private readonly presence = new Map<string, PeerInfo>();
  private readonly heldPeers = new Set<string>();
  private readonly linked = new Set<string>();
  private registryState: RegistryState = { phase: 'idle' };
  private closed = false;
  readonly tasks: AgentTasks;

  /** Made by openAgent, which opens the engine it listens to (and starts it after). @internal */
  constructor(
    readonly identity: SecretIdentity,
    readonly name: string,
    readonly project: string,
    private readonly session: ConsoleEngine,
    /** The engine's workstream (the CLI reads the log through it). @internal */
    readonly workstream: Workstream,
    private readonly trust: TrustBook,
    private readonly unlock: () => void,
  ) {
    super();
    const post = (body: TaskBody, ref?: string) => workstream.post('task', body, ref);
    this.tasks = {
      list: () => this.taskList(),
      create: (title) => post({ title, state: 'open' }),
      claim: (id, note) => post({ state: 'claimed', ...(note ? { note } : {}) }, this.taskId(id)),
      progress: (id, percent, note) => post({ state: 'progress', progress: percent, ...(note ? { note } : {}) }, this.taskId(id)),
      done: (id, note) => post({ state: 'done', progress: 100, ...(note ? { note } : {}) }, this.taskId(id)),
    };
    this.listen();
  }

  get peerId(): string {
    return this.identity.peerId;
  }

  /** The engine's events as the agent's (before the engine starts: nothing is missed). */
  private listen(): void {
    const { client, links } = this.session;
    // A known name with a new key (or a rejected one) is held until a person accepts it.
    this.session.on('trust', ({ peerId, trust: decision }) => {
      const peer = this.session.peer(peerId);
      if (peer && (decision === 'conflict' || decision === 'rejected')) this.hold(peer);
    });
    const lastState = new Map<string, AgentLinkState>();
    this.workstream.log.on('added', ({ entries, from }) => entries.forEach((entry) => this.emit('entry', { entry, ...(from ? { from } : {}) })));
    this.workstream.onProblem((p) => this.emit('problem', p));
    links.on('problem', (p) => this.emit('problem', { ...p, at: Date.now() }));
    client.on('state', (state) => {
      this.registryState = state;
      this.emit('registry', state);
    });
    client.on('welcome', (welcome) => {
      this.presence.clear();
      for (const peer of welcome.peers) this.presence.set(peer.peer_id, peer);
      for (const peer of welcome.peers) this.emit('peer', { ...this.peerOf(peer.peer_id), event: 'joined' });
    });
    client.on('peer_joined', (peer) => {
      this.presence.set(peer.peer_id, peer);
      this.emit('peer', { ...this.peerOf(peer.peer_id), event: 'joined' });
    });
    client.on('peer_left', ({ peerId }) => {
      const peer = this.peerOf(peerId);
      lastState.delete(peerId);
      this.presence.delete(peerId);
      this.heldPeers.delete(peerId);
      this.emit('peer', { ...peer, link: 'none', event: 'left' });
    });
    links.on('change', (snapshot) => {
      // Changes also carry stats; and a link closing after its peer left is not news.
      if (lastState.get(snapshot.peerId) === snapshot.state || !this.presence.has(snapshot.peerId)) return;
      lastState.set(snapshot.peerId, snapshot.state);
      this.emit('peer', { ...this.peerOf(snapshot.peerId), event: 'link' });
    });
    links.on('open', ({ peerId }) => this.linked.add(peerId));
    links.on('closed', ({ peerId }) => this.linked.delete(peerId));
  }

  private hold(peer: PeerInfo): void {
    this.presence.set(peer.peer_id, peer);
    this.heldPeers.add(peer.peer_id);
    this.emit('peer', { ...this.peerOf(peer.peer_id), event: 'held' });
  }

  /** The registry connection's state. */
  get registry(): RegistryState {
    return this.registryState;
  }

  /** Teammates online now (and those held back), with their link state. */
  peers(): AgentPeer[] {
    return [...this.presence.keys()].map((id) => this.peerOf(id));
  }

  /** The display name of a peer: online, or as pinned when it was last seen. */
  nameOf(peerId: string): string | undefined {
    if (peerId === this.peerId) return this.name;
    return this.presence.get(peerId)?.display_name ?? this.trust.get(peerId)?.displayName;
  }

  /** The log, in its order (every console orders it the same way). */
  entries(): readonly Entry[] {
    return this.workstream.log.entries();
  }

  post(text: string): Promise<Entry> {
    return this.workstream.post('message', { text });
  }

  status(state: AgentState, text?: string): Promise<Entry> {
    return this.workstream.post('status', { state, ...(text ? { text } : {}) });
  }

  /** Shares a file: its chunks are stored here and served to teammates while the agent is online. */
  async share(path: string, name = basename(path)): Promise<Entry> {
    return this.workstream.share(await openAsBlob(path), name);
  }

  /** Downloads a file entry from a teammate who holds it, verifies it, and writes it to `outPath`. */
  async download(entryId: string, outPath: string): Promise<void> {
    await this.workstream.files.download(entryId);
    const blob = await this.workstream.files.blob(entryId);
    if (!blob) throw new Error(`${entryId}: the file did not verify`);
    const tmp = `${outPath}.part-${process.pid}`;
    await writeFile(tmp, new Uint8Array(await blob.arrayBuffer()));
    await rename(tmp, outPath);
  }

  /**
   * Resolves true once at least one linked teammate has said it holds `entry` (ws-have), false
   * after `timeoutMs` without that (the entry stays stored here and goes out on the next link).
   */
  delivered(entry: Pick<Entry, 'author' | 'seq'>, timeoutMs = 15_000): Promise<boolean> {
    const check = () => this.linked.size > 0 && this.workstream.unconfirmed(entry).length < this.linked.size;
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const off = this.workstream.onConfirmations(() => check() && finish(true));
      const finish = (value: boolean) => {
        clearTimeout(timer);
        off();
        resolve(value);
      };
    });
  }

  /** Resolves once a link to some teammate is open (true), or false after `timeoutMs`. */
  linkedToAny(timeoutMs: number): Promise<boolean> {
    if (this.linked.size) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const off = this.session.links.on('open', () => finish(true));
      const finish = (value: boolean) => {
        clearTimeout(timer);
        off();
        resolve(value);
      };
    });
  }

  /** Leaves the project and releases the data directory; stored entries stay. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.close(); // and its workstream
    await this.trust.flush();
    this.removeAllListeners();
    this.unlock();
  }

  private peerOf(peerId: string): AgentPeer {
    const link: AgentPeer['link'] = this.heldPeers.has(peerId) ? 'held' : (this.session.links.snapshot(peerId)?.state ?? 'none');
    return { peerId, name: this.presence.get(peerId)?.display_name ?? this.nameOf(peerId) ?? peerId, link };
  }

  private taskId(id: string): string {
    const entry = this.workstream.log.get(id);
    if (!entry || entry.kind !== 'task' || entry.ref) throw new Error(`no task ${id} in the log`);
    return id;
  }

  private taskList(): AgentTask[] {
    const byId = new Map<string, AgentTask>();
    for (const e of this.workstream.log.entries()) {
      if (e.kind !== 'task') continue;
      const body = e.body as TaskBody;
      if (!e.ref && body.title) {
        byId.set(e.id, { id: e.id, title: body.title, state: body.state, ...(body.progress !== undefined ? { progress: body.progress } : {}), updatedAt: e.ts });
        continue;
      }
      const task = e.ref ? byId.get(e.ref) : undefined;
      if (!task) continue;
      task.state = body.state;
      if (body.progress !== undefined) task.progress = body.progress;
      if (body.state === 'claimed') task.owner = e.author;
      if (body.title) task.title = body.title;
      task.updatedAt = e.ts;
    }
    return [...byId.values()];
  }
}

/**
 * Opens the agent kept in `dataDir` (made on first use, with a new identity) and joins its project.
 * The first time needs `invite` and `name`; after that both are read from the directory. Only one
 * process may use a data directory at a time (a lock file; a second gets AgentStorageError).
 */
export async function openAgent(options: AgentOptions): Promise<Agent> {
  ensureDataDir(options.dataDir);
  const unlock = lockDataDir(options.dataDir);
  try {
    // A damaged invite.json is replaced by a join that brings its own invite and name.
    const saved = options.invite && options.name ? tryLoadJoin(options.dataDir) : loadJoin(options.dataDir);
    const inviteText = options.invite ?? saved?.invite;
    const name = options.name ?? saved?.name;
    if (!inviteText) throw new AgentStorageError(`${options.dataDir} has not joined a project yet: give an invite`);
    if (!name?.trim()) throw new AgentStorageError('a name is needed the first time (--name)');
    const invite = parseInvite(inviteText);
    if (saved) {
      const before = parseInvite(saved.invite).claims.project;
      if (before !== invite.claims.project) throw new AgentStorageError(`${options.dataDir} holds project “${before}”; use another data directory for “${invite.claims.project}”`);
    }
    let identity = loadIdentity(options.dataDir);
    if (!identity) {
      identity = await createIdentity();
      saveIdentity(options.dataDir, identity);
    }
    if (saved?.invite !== inviteText || saved.name !== name) saveJoin(options.dataDir, { invite: inviteText, name });
    const trust = new TrustBook(fileTrustStorage(options.dataDir));
    await trust.load();
    const { engine, workstream } = await openAgentConsole({
      invite,
      name,
      identity,
      store: new FileWorkstreamStore(options.dataDir),
      trust,
      maxFileBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
      ...(options.linkConfig ? { linkConfig: options.linkConfig } : {}),
    });
    const agent = new Agent(identity, name, invite.claims.project, engine, workstream, trust, unlock);
    engine.start();
    return agent;
  } catch (error) {
    unlock();
    throw error;
  }
}

function tryLoadJoin(dataDir: string): ReturnType<typeof loadJoin> {
  try {
    return loadJoin(dataDir);
  } catch (error) {
    if (error instanceof AgentStorageError) return undefined;
    throw error;
  }
}

/** An entry as JSON: ids and text as they are, byte fields as lower-case hex (a file's chunk hashes left out). */
export function entryToJson(entry: Entry, authorName?: string): Record<string, unknown> {
  const fields = entry.body && typeof entry.body === 'object' ? Object.entries(entry.body as Record<string, unknown>).filter(([k]) => !(entry.kind === 'file' && k === 'chunkHashes')) : undefined;
  const body = fields ? Object.fromEntries(fields.map(([k, v]) => [k, v instanceof Uint8Array ? toHex(v) : v])) : entry.body;
  return { id: entry.id, author: entry.author, ...(authorName ? { authorName } : {}), seq: entry.seq, ts: entry.ts, kind: entry.kind, ref: entry.ref, body };
}
