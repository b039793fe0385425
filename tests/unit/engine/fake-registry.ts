/**
 * A registry in memory for LinkManager tests in Node: presence and `relay` frames routed between
 * fake SignalingClients, synchronously; signaling is not carried (links fall back to the relay,
 * sealed under the session keys presence carries). Each console can lose its registry connection
 * and come back, as after a registry restart.
 */
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { createSession, encodeCertificate, type SessionSecrets } from '../../../src-shared/session-certificate';
import type { IceServer, PeerInfo, RelayFrame, WelcomeFrame } from '../../../src-shared/protocol/signaling';
import { Emitter } from '../../../src-renderer/engine/emitter';
import type { RegistryState, SignalingClient } from '../../../src-renderer/engine/signaling-client';
import { LinkManager } from '../../../src-renderer/engine/link-manager';
import { StubConnection } from './stub-connection';
import { testChannel } from '../../support/link-bus';

type ClientEvents = {
  state: RegistryState;
  welcome: WelcomeFrame;
  peer_joined: PeerInfo;
  peer_left: { peerId: string; reason: string };
  relay: RelayFrame;
  error: { code: string; message: string; refType?: string; refPeerId?: string };
};


export class FakeClient extends Emitter<ClientEvents> {
  connected = false;
  constructor(
    private readonly registry: FakeRegistry,
    public info: PeerInfo,
  ) {
    super();
  }
  get bufferedAmount(): number {
    return 0;
  }
  sendSignal(): boolean {
    return this.connected;
  }
  sendRelay(toPeerId: string, payload: Uint8Array): boolean {
    if (!this.connected) return false;
    this.registry.route(this, toPeerId, payload);
    return true;
  }
  fire<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    this.emit(event, value);
  }
}

export interface TestConsole {
  identity: SecretIdentity;
  session: SessionSecrets;
  client: FakeClient;
  links: LinkManager;
  received: unknown[];
  closed: string[];
  errors: string[];
}

export class FakeRegistry {
  readonly consoles: TestConsole[] = [];

  /** The ICE servers its welcome hands out. */
  iceServers: IceServer[] = [];

  async console(name: string, identity?: SecretIdentity, admit?: (peer: PeerInfo) => boolean, createPeerConnection?: (configuration: RTCConfiguration) => RTCPeerConnection): Promise<TestConsole> {
    identity ??= await createIdentity();
    const session = await createSession((body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)));
    const info: PeerInfo = {
      peer_id: identity.peerId,
      display_name: name,
      signing_key: identity.signingPublicKey,
      box_key: identity.boxPublicKey,
      box_key_sig: identity.boxKeySignature,
      session_cert: encodeCertificate(session.certificate),
      joined_at: Date.now(),
    };
    const client = new FakeClient(this, info);
    const links = new LinkManager({
      client: client as unknown as SignalingClient,
      session,
      config: { blockDirect: true, fallbackAfterMs: 30, directRetry: { baseMs: 600_000, maxMs: 600_000 } },
      createPeerConnection: createPeerConnection ?? (() => new StubConnection() as unknown as RTCPeerConnection),
      ...(admit ? { admit } : {}),
    });
    const c: TestConsole = { identity, session, client, links, received: [], closed: [], errors: [] };
    links.on('error', ({ code }) => c.errors.push(code));
    testChannel(links, (_peerId, message) => c.received.push(message));
    links.on('closed', ({ peerId }) => c.closed.push(peerId));
    this.consoles.push(c);
    return c;
  }

  /** The same console in a new session (a reload): its old session is gone without a word. */
  async restart(c: TestConsole, name: string): Promise<TestConsole> {
    c.client.connected = false;
    c.links.close();
    this.consoles.splice(this.consoles.indexOf(c), 1);
    return this.console(name, c.identity);
  }

  /** The console (re)connects: its welcome lists who is here, and they hear of it. */
  connect(c: TestConsole): void {
    const others = this.consoles.filter((o) => o !== c && o.client.connected);
    c.client.connected = true;
    c.client.fire('state', { phase: 'connected', since: Date.now() });
    c.client.fire('welcome', {
      type: 'welcome',
      protocol: 1,
      peer_id: c.identity.peerId,
      project_id: 'p',
      peers: others.map((o) => o.client.info),
      ice_servers: this.iceServers,
      ice_servers_expire_at: 0,
      limits: { max_frame_bytes: 65536, frames_per_second: 50, burst: 200, heartbeat_ms: 15000 },
    });
    for (const o of others) o.client.fire('peer_joined', c.client.info);
  }

  /** The console renames itself (update_presence): the others get its presence again, new name, same session. */
  rename(c: TestConsole, name: string): void {
    c.client.info = { ...c.client.info, display_name: name };
    for (const o of this.consoles) if (o !== c && o.client.connected) o.client.fire('peer_joined', c.client.info);
  }

  /** The registry goes away: every console loses its connection (no peer_left: nobody is left to send it). */
  stop(): void {
    for (const c of this.consoles) {
      c.client.connected = false;
      c.client.fire('state', { phase: 'reconnecting', attempt: 1, retryAt: Date.now() + 1000, reason: 'connection closed (1006)' });
    }
  }

  /** One console leaves: the others hear peer_left. */
  disconnect(c: TestConsole): void {
    c.client.connected = false;
    c.client.fire('state', { phase: 'reconnecting', attempt: 1, retryAt: Date.now() + 1000, reason: 'connection closed (1006)' });
    for (const o of this.consoles) if (o !== c && o.client.connected) o.client.fire('peer_left', { peerId: c.identity.peerId, reason: 'timeout' });
  }

  /** The console's invite is revoked: it is refused for good, and the others hear it was removed (peer_left `kicked`). */
  revoke(c: TestConsole): void {
    c.client.connected = false;
    c.client.fire('state', { phase: 'rejected', code: 'INVITE_REVOKED', message: 'the invite was revoked' });
    for (const o of this.consoles) if (o !== c && o.client.connected) o.client.fire('peer_left', { peerId: c.identity.peerId, reason: 'kicked' });
  }

  route(from: FakeClient, toPeerId: string, payload: Uint8Array): void {
    const target = this.consoles.find((c) => c.identity.peerId === toPeerId && c.client.connected);
    if (!target) {
      from.fire('error', { code: 'UNKNOWN_PEER', message: `no console ${toPeerId}`, refType: 'relay', refPeerId: toPeerId });
      return;
    }
    target.client.fire('relay', { type: 'relay', from_peer_id: from.info.peer_id, to_peer_id: toPeerId, payload });
  }

  close(): void {
    for (const c of this.consoles.splice(0)) c.links.close();
  }
}
