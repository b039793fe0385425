/**
 * This console's session with its registry: who am I, which project, connection state, and the
 * peer list. The live SignalingClient stays outside reactivity (a closure variable) and reports
 * into this store's serializable state.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { HostApi, IdentityInfo, Settings } from '../../src-shared/ipc';
import { InviteError, parseInvite, type ParsedInvite } from '../../src-shared/invite';
import { keyFingerprint } from '../../src-shared/identity';
import type { PeerInfo } from '../../src-shared/protocol/signaling';
import { SignalingClient, type RegistryState } from '../engine/signaling-client';

export interface PeerRow {
  peerId: string;
  displayName: string;
  fingerprint: string;
  onlineSince: number;
}

function toRow(peer: PeerInfo): PeerRow {
  return { peerId: peer.peer_id, displayName: peer.display_name, fingerprint: keyFingerprint(peer.signing_key), onlineSince: peer.joined_at };
}

export const useSessionStore = defineStore('session', () => {
  const host = shallowRef<HostApi>();
  const identity = ref<IdentityInfo>();
  const settings = ref<Settings>();
  const registryState = ref<RegistryState>({ phase: 'idle' });
  const project = ref<string>();
  const invite = ref<ParsedInvite>();
  const peers = ref<Record<string, PeerRow>>({});
  const notices = ref<Array<{ at: number; code: string; message: string }>>([]);
  let client: SignalingClient | undefined;

  const peerList = computed(() => Object.values(peers.value).sort((a, b) => a.displayName.localeCompare(b.displayName) || a.peerId.localeCompare(b.peerId)));

  async function init(api: HostApi): Promise<void> {
    host.value = api;
    identity.value = await api.getIdentity();
    settings.value = await api.getSettings();
  }

  /** Joins with an invite link; throws InviteError (with a user-facing message) if it is not one. */
  async function join(link: string): Promise<void> {
    const api = host.value;
    if (!api || !identity.value || !settings.value) throw new Error('the console is not ready yet');
    const parsed = parseInvite(link);
    if (parsed.claims.expiresAt < Date.now()) throw new InviteError('this invite has expired: ask for a new one');
    leave();
    invite.value = parsed;
    project.value = parsed.claims.project;
    settings.value = await api.updateSettings({ invite: link.trim() });
    const me = identity.value;
    const c = new SignalingClient({
      url: parsed.registryUrl,
      invite: parsed.token,
      displayName: settings.value.displayName,
      signingPublicKey: me.signingPublicKey,
      boxPublicKey: me.boxPublicKey,
      boxKeySignature: me.boxKeySignature,
      signChallenge: (nonce) => api.signChallenge(nonce),
    });
    client = c;
    c.on('state', (state) => (registryState.value = state));
    c.on('welcome', (welcome) => {
      project.value = welcome.project_id;
      // A (re)connect's welcome is the truth: peers that left while we were away disappear.
      peers.value = Object.fromEntries(welcome.peers.map((p) => [p.peer_id, toRow(p)]));
    });
    c.on('peer_joined', (peer) => (peers.value = { ...peers.value, [peer.peer_id]: toRow(peer) }));
    c.on('peer_left', ({ peerId }) => {
      const { [peerId]: _gone, ...rest } = peers.value;
      peers.value = rest;
    });
    c.on('error', (error) => (notices.value = [...notices.value.slice(-19), { at: Date.now(), ...error }]));
    c.start();
  }

  function leave(): void {
    client?.stop();
    client = undefined;
    peers.value = {};
    registryState.value = { phase: 'idle' };
  }

  async function forgetInvite(): Promise<void> {
    leave();
    invite.value = undefined;
    project.value = undefined;
    if (host.value) settings.value = await host.value.updateSettings({ invite: null });
  }

  async function rename(displayName: string): Promise<void> {
    if (!host.value) return;
    settings.value = await host.value.updateSettings({ displayName });
    if (settings.value.invite && client) await join(settings.value.invite);
  }

  return { host, identity, settings, registryState, project, invite, peers, peerList, notices, init, join, leave, forgetInvite, rename };
});
