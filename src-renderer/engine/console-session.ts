/**
 * A console in a project: the registry connection and the links to every teammate, wired
 * together. openConsole (console.ts) builds the whole console on it; the link-level test harness
 * uses it alone.
 */
import type { ParsedInvite } from '../../src-shared/invite';
import type { ClientInfo, PeerInfo } from '../../src-shared/protocol/signaling';
import { createSession, encodeCertificate, type SessionSecrets } from '../../src-shared/session-certificate';
import type { BackoffPolicy } from './backoff';
import { LinkManager } from './link-manager';
import type { LinkConfig } from './link/peer-link';
import { SignalingClient } from './signaling-client';

export interface ConsoleSessionOptions {
  invite: ParsedInvite;
  displayName: string;
  /** What this peer says it is in presence (the GUI: a console; src-agent: an agent). Left out: peers show a console. */
  client?: ClientInfo;
  identity: { signingPublicKey: Uint8Array; boxPublicKey: Uint8Array; boxKeySignature: Uint8Array };
  signChallenge(nonce: Uint8Array): Promise<Uint8Array>;
  /** See SignalingClientOptions.signEarlyHello. */
  signEarlyHello?(payload: Uint8Array): Promise<Uint8Array>;
  /** The host signing a session certificate body with the identity key (see HostApi). */
  certifySession(body: Uint8Array): Promise<Uint8Array>;
  /** Reuse this session's keys (one certificate per console session); made when absent. */
  session?: SessionSecrets;
  linkConfig?: Partial<LinkConfig>;
  backoff?: BackoffPolicy;
  extraIceServers?: RTCIceServer[];
  /** Trust on first use: link to this console? (see TrustBook) */
  admit?: (peer: PeerInfo) => boolean;
  /** Hosts without the browser's globals (a Node agent: src-agent/) bring their own WebSocket and RTCPeerConnection. */
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  /** See LinkManagerOptions.prepareConnections. */
  prepareConnections?: boolean;
  /** See LinkManagerOptions.beginConnectionEarly. */
  beginConnectionEarly?: boolean;
  createPeerConnection?: (configuration: RTCConfiguration) => RTCPeerConnection;
}

export interface ConsoleSession {
  client: SignalingClient;
  links: LinkManager;
  session: SessionSecrets;
  /** Not started until called, so the caller can subscribe to events first. */
  start(): void;
  stop(): void;
}

export async function createConsoleSession(options: ConsoleSessionOptions): Promise<ConsoleSession> {
  const session = options.session ?? (await createSession(options.certifySession));
  const client = new SignalingClient({
    url: options.invite.registryUrls,
    invite: options.invite.token,
    displayName: options.displayName,
    signingPublicKey: options.identity.signingPublicKey,
    boxPublicKey: options.identity.boxPublicKey,
    boxKeySignature: options.identity.boxKeySignature,
    signChallenge: options.signChallenge,
    ...(options.signEarlyHello ? { signEarlyHello: options.signEarlyHello } : {}),
    sessionCertificate: encodeCertificate(session.certificate),
    ...(options.client ? { client: options.client } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.createSocket ? { createSocket: options.createSocket } : {}),
  });
  const links = new LinkManager({
    client,
    session,
    ...(options.linkConfig ? { config: options.linkConfig } : {}),
    ...(options.admit ? { admit: options.admit } : {}),
    ...(options.extraIceServers ? { extraIceServers: options.extraIceServers } : {}),
    ...(options.createPeerConnection ? { createPeerConnection: options.createPeerConnection } : {}),
    ...(options.prepareConnections === false ? { prepareConnections: false } : {}),
    ...(options.beginConnectionEarly === false ? { beginConnectionEarly: false } : {}),
  });
  return {
    client,
    links,
    session,
    start: () => client.start(),
    stop() {
      links.close();
      client.stop();
    },
  };
}
