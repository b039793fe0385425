/**
 * This console's session with its registry as the GUI shows it: who am I, which project,
 * connection state, the peer list, links, trust and relay usage. The engine assembles and runs
 * the console (openConsole, engine/console.ts); the live object stays outside reactivity (a
 * closure variable) and this store maps what it reports to serializable views.
 */
import { MIB, useWorkstreamStore } from './workstream.store';
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { HostApi, IdentityInfo, Settings, SettingsPatch } from '../../src-shared/ipc';
import { InviteError, parseInvite, type ParsedInvite } from '../../src-shared/invite';
import { keyFingerprint, safetyCode } from '../../src-shared/identity';
import type { TrustBook, TrustStatus } from '../engine/trust-book';
import { fromBase64Url } from '../../src-shared/bytes';
import { bidiSafe } from '../engine/workstream/entry-view';
import type { ClientInfo, PeerInfo } from '../../src-shared/protocol/signaling';
import { CONSOLE_CLIENT } from '../console-client';
import type { RegistryState } from '../engine/signaling-client';
import { consoleHostOf, openConsole, openTrustBook, sharedLinkStates, type ConsoleEngine, type RelayUsage, type SharedLinkState, type TrustDecision } from '../engine/console';
import type { LinkSnapshot } from '../engine/link/peer-link';

export type { SharedLinkState };
export type RelayUsageView = RelayUsage;

/** What the GUI shows of a link (serializable; the live PeerLink stays in the engine): its snapshot's counters, path and recent events. */
export type LinkView = Pick<
  LinkSnapshot,
  'state' | 'path' | 'rttMs' | 'bytesSent' | 'bytesReceived' | 'messagesSent' | 'messagesReceived' | 'rejectedSignals' | 'iceRestarts' | 'reconnects' | 'relayFallbacks' | 'history' | 'errors'
>;

/** Something that went wrong on the link with a peer: seen here, or told by the peer (its link states). */
export interface LinkNote {
  at: number;
  code: string;
  message: string;
  /** 'here': this console's end of the link (or the registry, about it); 'peer': the peer's end. */
  end: 'here' | 'peer';
}

export interface PeerRow {
  peerId: string;
  displayName: string;
  fingerprint: string;
  /** The fingerprint's first group, shown next to the name wherever it is shown: which key it is. */
  keyTag: string;
  onlineSince: number;
  /** Marked verified by the user after comparing fingerprints or the safety code. */
  verified: boolean;
  /** Trust on first use: 'conflict' = a known name with a new key, held until the user decides. */
  trust: 'ok' | 'conflict' | 'rejected';
  /** Who had this display name before (and that console's key fingerprint), when trust is 'conflict'. */
  previousPeerId?: string;
  previousName?: string;
  previousFingerprint?: string;
  /** When trust is 'conflict' because a known console renamed itself: its pinned name. */
  renamedFrom?: string;
  /** What the peer says it is (console or agent, software, version): a label, unverified. Absent: a console. */
  client?: ClientInfo;
}

function registryHost(link: string | undefined): string | undefined {
  try {
    return link ? new URL(link).host : undefined;
  } catch {
    return undefined;
  }
}

function toLinkView(s: LinkSnapshot): LinkView {
  return {
    state: s.state,
    ...(s.path ? { path: s.path } : {}),
    ...(s.rttMs !== undefined ? { rttMs: s.rttMs } : {}),
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    messagesSent: s.messagesSent,
    messagesReceived: s.messagesReceived,
    rejectedSignals: s.rejectedSignals,
    iceRestarts: s.iceRestarts,
    reconnects: s.reconnects,
    relayFallbacks: s.relayFallbacks,
    history: s.history,
    errors: s.errors,
  };
}

/** A peer as the GUI shows it: its name bidiSafe (an isolate mark in it could end the isolate it is shown in). */
function toRow(peer: PeerInfo): PeerRow {
  const fingerprint = keyFingerprint(peer.signing_key);
  return { peerId: peer.peer_id, displayName: bidiSafe(peer.display_name), fingerprint, keyTag: keyTagOf(fingerprint), onlineSince: peer.joined_at, verified: false, trust: 'ok', ...(peer.client ? { client: peer.client } : {}) };
}

/** The first group of a key fingerprint. */
const keyTagOf = (fingerprint: string): string => fingerprint.slice(0, 4);

/** What a trust conflict adds to a peer's row: who held the name, with which key, and a rename. */
function conflictFields(status: TrustStatus): Partial<PeerRow> {
  if (status.kind !== 'conflict') return {};
  let previousFingerprint: string | undefined;
  try {
    previousFingerprint = keyFingerprint(fromBase64Url(status.previous.signingKey));
  } catch {
    previousFingerprint = undefined; // a damaged record: the peer id still says who it was
  }
  return {
    previousPeerId: status.previous.peerId,
    previousName: bidiSafe(status.previous.displayName),
    ...(previousFingerprint ? { previousFingerprint } : {}),
    ...(status.renamedFrom !== undefined ? { renamedFrom: bidiSafe(status.renamedFrom) } : {}),
  };
}

export const useSessionStore = defineStore('session', () => {
  const host = shallowRef<HostApi>();
  const identity = ref<IdentityInfo>();
  const settings = ref<Settings>();
  const registryState = ref<RegistryState>({ phase: 'idle' });
  /** host:port of the registry this console talks to (or last tried). */
  const registryAddress = ref<string>();
  const project = ref<string>();
  const invite = ref<ParsedInvite>();
  /** Why the last invite given to this console (pasted or opened as a link) was not joined, for the Join box. */
  const joinError = ref<string>();
  const peers = ref<Record<string, PeerRow>>({});
  /** The registry's notices about this console's session (a notice about one link goes with that peer). */
  const notices = ref<Array<{ at: number; code: string; message: string }>>([]);
  /** What the registry said about the link with a peer (e.g. relay over budget): peerId → notes. */
  const registryLinkNotes = ref<Record<string, LinkNote[]>>({});
  const links = ref<Record<string, LinkView>>({});
  const untrusted = ref<Record<string, string>>({});
  /** Every console's links as it last told us: consoleId → its links (for the project graph). */
  const projectLinks = ref<Record<string, SharedLinkState[]>>({});
  const relayUsage = ref<Record<string, RelayUsageView>>({});
  /** Signaling frames waiting for the registry's rate limit (the console paces what it sends). */
  const pacing = ref({ queued: 0, framesPerSecond: 0 });
  const forcedRelay = ref<Record<string, boolean>>({});
  let book: TrustBook | undefined;
  let current: ConsoleEngine | undefined;
  /**
   * When the last session started. Every join starts a new session (new certificate, strictly
   * newer): its links, sequence numbers and streams are all new, and peers must see a restart. A
   * rejoin that kept the certificate (a rename, when renames rejoined) left a peer's surviving
   * direct link refusing the new links' signaling as replays and waiting on the old stream: linked,
   * yet nothing arrived. A rename now keeps the session and its links (saveSettings).
   */
  let lastSessionStart = 0;
  /**
   * Counts joins and leaves. A join that waits (settings, session keys, opening the workstream)
   * while a newer join or a leave starts gives up instead of starting its session afterwards: a
   * rename during the first join otherwise left two sessions of one console running, the older
   * one holding the links and no workstream.
   */
  let joinTurn = 0;

  const peerList = computed(() => Object.values(peers.value).sort((a, b) => a.displayName.localeCompare(b.displayName) || a.peerId.localeCompare(b.peerId)));

  async function init(api: HostApi): Promise<void> {
    host.value = api;
    identity.value = await api.getIdentity();
    settings.value = await api.getSettings();
    book = await openTrustBook(api);
  }

  /** Joins with an invite link; throws InviteError (with a user-facing message) if it is not one. */
  async function join(link: string, options: { startup?: boolean } = {}): Promise<void> {
    const api = host.value;
    if (!api || !identity.value || !settings.value) throw new Error('the console is not ready yet');
    const parsed = parseInvite(link);
    if (parsed.claims.expiresAt < Date.now()) throw new InviteError('this invite has expired: ask for a new one');
    if (api.kind === 'desktop' && !options.startup && registryHost(settings.value.invite) !== registryHost(link)) {
      // The desktop window's CSP names the configured registries when the page loads: save the
      // invite and reload, and the page rejoins with the new registry allowed (and only it).
      await api.updateSettings({ invite: link.trim() });
      location.reload();
      return;
    }
    leave();
    const turn = joinTurn;
    const superseded = () => turn !== joinTurn;
    invite.value = parsed;
    project.value = parsed.claims.project;
    settings.value = await api.updateSettings({ invite: link.trim() });
    if (superseded()) return;
    const me = identity.value;
    lastSessionStart = Math.max(Date.now(), lastSessionStart + 1);
    const started = await openConsole(consoleHostOf(api, me), {
      invite: parsed,
      displayName: settings.value.displayName,
      client: CONSOLE_CLIENT,
      links: settings.value.links,
      maxFileBytes: () => (settings.value?.maxFileMiB ?? 1024) * MIB,
      sessionStart: lastSessionStart,
      ...(book ? { trust: book } : {}),
    });
    if (superseded()) return started.close();
    current = started;
    const { client: c, links: m } = started;
    useWorkstreamStore().attach({ project: parsed.claims.project, workstream: started.workstream, ...(started.workstreamError ? { error: started.workstreamError } : {}), author: me.peerId });
    m.on('change', (snapshot) => {
      links.value = { ...links.value, [snapshot.peerId]: toLinkView(snapshot) };
    });
    m.on('closed', ({ peerId }) => {
      const { [peerId]: _gone, ...rest } = links.value;
      links.value = rest;
    });
    started.on('link-states', ({ peerId, links: shared }) => (projectLinks.value = { ...projectLinks.value, [peerId]: shared }));
    started.on('relay-usage', (usage) => (relayUsage.value = { ...usage }));
    started.on('trust', applyTrust);
    m.on('untrusted', ({ peerId, reason }) => {
      untrusted.value = { ...untrusted.value, [peerId]: reason };
      notices.value = [...notices.value.slice(-19), { at: Date.now(), code: 'IDENTITY_INVALID', message: `${peerId.slice(0, 6)}: ${reason}` }];
    });
    m.on('problem', (problem) => (notices.value = [...notices.value.slice(-19), { at: Date.now(), ...problem }]));
    c.on('pacing', (p) => (pacing.value = p));
    c.on('state', (state) => {
      registryState.value = state;
      registryAddress.value = new URL(c.url).host; // the instance in use (invites may list several)
    });
    c.on('welcome', (welcome) => {
      project.value = welcome.project_id;
      // A (re)connect's welcome is the truth: peers that left while we were away disappear.
      peers.value = Object.fromEntries(welcome.peers.map((p) => [p.peer_id, withTrust(toRow(p))]));
    });
    c.on('peer_joined', (peer) => {
      peers.value = { ...peers.value, [peer.peer_id]: withTrust(toRow(peer)) };
    });
    c.on('peer_left', ({ peerId }) => {
      const { [peerId]: _gone, ...rest } = peers.value;
      peers.value = rest;
    });
    c.on('error', (error) => {
      const note = { at: Date.now(), code: error.code, message: error.message };
      // About one link (its relay frames, its signaling): shown with that peer, not as the session's.
      if (error.refPeerId) registryLinkNotes.value = { ...registryLinkNotes.value, [error.refPeerId]: [...(registryLinkNotes.value[error.refPeerId] ?? []).slice(-9), { ...note, end: 'here' }] };
      else notices.value = [...notices.value.slice(-19), note];
    });
    started.start();
  }

  /** Joins with an invite pasted into the Join box or opened as a link; a problem goes to joinError. */
  async function openInvite(link: string, options: { startup?: boolean } = {}): Promise<void> {
    joinError.value = undefined;
    try {
      await join(link, options);
    } catch (error) {
      joinError.value = (error as Error).message;
      // The project an earlier try was refused from is over: only this invite's problem is said.
      if (registryState.value.phase === 'rejected') {
        leave();
        invite.value = undefined;
        project.value = undefined;
      }
    }
  }

  /**
   * What went wrong on each link, from both ends: this end's link errors, the registry's notices
   * about the link, and the error the peer's end last reported in its link states. Newest last.
   */
  const linkNotes = computed<Record<string, LinkNote[]>>(() => {
    const me = identity.value?.peerId;
    const out: Record<string, LinkNote[]> = {};
    const add = (peerId: string, note: LinkNote) => (out[peerId] ??= []).push(note);
    for (const [peerId, l] of Object.entries(links.value)) for (const e of l.errors) add(peerId, { ...e, end: 'here' });
    for (const [peerId, notes] of Object.entries(registryLinkNotes.value)) {
      for (const n of notes) if (!out[peerId]?.some((e) => e.code === n.code && Math.abs(e.at - n.at) < 2000)) add(peerId, n);
    }
    for (const [peerId, shared] of Object.entries(projectLinks.value)) {
      const theirs = shared.find((l) => l.peerId === me)?.error;
      if (theirs) add(peerId, { at: Date.now(), code: theirs, message: 'reported by their end of the link', end: 'peer' });
    }
    for (const notes of Object.values(out)) notes.sort((a, b) => a.at - b.at);
    return out;
  });

  /** This console's links as it tells its peers (the engine shares them every 2 s). */
  function ownLinkStates(): SharedLinkState[] {
    return sharedLinkStates(Object.entries(links.value).map(([peerId, l]) => ({ peerId, ...l })));
  }

  /**
   * A JSON report for bug reports: links with candidates, pairs, state history and errors, the
   * registry connection and recent notices. No invite, token, key or credential goes in it.
   */
  async function diagnosticsReport(): Promise<string> {
    const report = {
      generatedAt: new Date().toISOString(),
      console: { peerId: identity.value?.peerId, fingerprint: identity.value?.fingerprint, runsAs: host.value?.kind, userAgent: navigator.userAgent },
      project: project.value,
      registry: { state: registryState.value, url: current?.client.url.replace(/#.*$/, ''), framesWaitingForRateLimit: current?.client.queuedFrames ?? 0 },
      peers: peerList.value.map(({ peerId, displayName, fingerprint, verified, trust }) => ({ peerId, displayName, fingerprint, verified, trust })),
      links: (await current?.links.diagnostics()) ?? [],
      notices: notices.value,
    };
    return JSON.stringify(report, null, 2);
  }

  /** Diagnostics: force the link to a peer onto the registry relay, or let it go direct again. */
  /** The header's "Retry now" while the registry connection is down. */
  function retryRegistry(): void {
    current?.client.retryNow();
  }

  function forceRelay(peerId: string, on: boolean): void {
    current?.links.forceRelay(peerId, on);
    forcedRelay.value = { ...forcedRelay.value, [peerId]: on };
  }

  /** The engine's trust decisions (on first use, or a person's), shown in the peer's row. */
  function applyTrust(decision: TrustDecision): void {
    if (decision.trust !== 'ok') return updateRow(decision.peerId, { trust: decision.trust, ...conflictFields(decision.status) });
    const row = peers.value[decision.peerId];
    if (!row) return;
    const { previousPeerId: _p, previousName: _n, previousFingerprint: _f, renamedFrom: _r, ...rest } = row;
    peers.value = { ...peers.value, [decision.peerId]: { ...rest, trust: 'ok', verified: decision.verified } };
  }

  function updateRow(peerId: string, patch: Partial<PeerRow>): void {
    const row = peers.value[peerId];
    if (row) peers.value = { ...peers.value, [peerId]: { ...row, ...patch } };
  }

  /** The person confirmed the new key (e.g. a reinstall): pin it and link. */
  function acceptPeer(peerId: string): void {
    current?.accept(peerId);
  }

  function rejectPeer(peerId: string): void {
    current?.reject(peerId);
  }

  function setVerified(peerId: string, verified: boolean): void {
    book?.setVerified(peerId, verified);
    updateRow(peerId, { verified });
  }

  /** The pair's safety code: the same on both consoles. */
  function safetyCodeWith(peerId: string): string | undefined {
    const peer = current?.peer(peerId);
    return peer && identity.value ? safetyCode(identity.value.signingPublicKey, peer.signing_key) : undefined;
  }

  function withTrust(row: PeerRow): PeerRow {
    const record = book?.get(row.peerId);
    const status = current?.assess(row.peerId);
    return {
      ...row,
      verified: record?.verified ?? false,
      trust: status?.kind === 'conflict' ? 'conflict' : status?.kind === 'rejected' ? 'rejected' : 'ok',
      ...(status ? conflictFields(status) : {}),
    };
  }

  /**
   * How to show a console by its peer_id (a workstream author, a graph node): its name — online
   * peers', then pinned ones', then the peer_id's start — and its key tag, the first group of its key
   * fingerprint, so that two consoles using one name can be told apart.
   */
  function authorOf(peerId: string): { name: string; keyTag: string; verified: boolean; self: boolean } {
    if (peerId === identity.value?.peerId) return { name: bidiSafe(settings.value?.displayName ?? 'me'), keyTag: keyTagOf(identity.value.fingerprint), verified: true, self: true };
    const online = peers.value[peerId];
    if (online) return { name: online.displayName, keyTag: online.keyTag, verified: online.verified, self: false };
    const pinned = book?.get(peerId);
    if (pinned) return { name: bidiSafe(pinned.displayName), keyTag: pinnedKeyTag(pinned.signingKey), verified: pinned.verified, self: false };
    return { name: peerId.slice(0, 6), keyTag: '????', verified: false, self: false };
  }

  /** Key tags of pinned consoles, by their key (a fingerprint is a SHA-512). */
  const pinnedTags = new Map<string, string>();
  function pinnedKeyTag(signingKey: string): string {
    let tag = pinnedTags.get(signingKey);
    if (!tag) {
      try {
        tag = keyTagOf(keyFingerprint(fromBase64Url(signingKey)));
      } catch {
        tag = '????';
      }
      pinnedTags.set(signingKey, tag);
    }
    return tag;
  }

  function leave(): void {
    joinTurn++;
    useWorkstreamStore().detach();
    projectLinks.value = {};
    registryLinkNotes.value = {};
    relayUsage.value = {};
    pacing.value = { queued: 0, framesPerSecond: 0 };
    current?.close();
    current = undefined;
    peers.value = {};
    links.value = {};
    registryState.value = { phase: 'idle' };
    registryAddress.value = undefined;
  }

  async function forgetInvite(): Promise<void> {
    leave();
    invite.value = undefined;
    project.value = undefined;
    if (host.value) settings.value = await host.value.updateSettings({ invite: null });
  }

  /**
   * Saves settings (throws with the first validation message when a value is refused) and applies
   * them to the running session without dropping a link: a new name is a presence update at the
   * registry; new ICE settings restart ICE on each link; the rest touches no link. (Rejoining
   * would drop every link, and needs a new session each time: see lastSessionStart.)
   */
  async function saveSettings(patch: SettingsPatch): Promise<void> {
    if (!host.value) return;
    const before = settings.value;
    const after = (settings.value = await host.value.updateSettings(patch));
    if (!current || !before) return; // the next join reads them
    if (after.displayName !== before.displayName) current.client.setDisplayName(after.displayName);
    if (JSON.stringify(after.links) !== JSON.stringify(before.links)) {
      current.links.reconfigure({ fallbackAfterMs: after.links.fallbackAfterMs, iceTransportPolicy: after.links.iceTransportPolicy, extraIceServers: after.links.iceServers });
    }
  }

  function rename(displayName: string): Promise<void> {
    return saveSettings({ displayName });
  }

  return { authorOf, linkNotes, host, identity, settings, registryState, registryAddress, project, invite, joinError, peers, peerList, links, untrusted, projectLinks, relayUsage, pacing, forcedRelay, ownLinkStates, notices, init, join, openInvite, leave, forgetInvite, rename, acceptPeer, rejectPeer, setVerified, safetyCodeWith, forceRelay, diagnosticsReport, saveSettings, retryRegistry };
});
