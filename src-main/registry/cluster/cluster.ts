/**
 * What one registry instance needs from the others when several share a project space.
 * Single-process registries have no cluster (undefined); `RedisCluster` implements it over Redis.
 */
import type { LeaveReason, PeerInfo, ServerFrame } from '../../../src-shared/protocol/signaling';
import type { RelayBudget, RelayRefusal } from '../relay-accounting';

/**
 * Where a frame to a console of the project can go: delivered; `departed`: the console left lately
 * (or its instance died), so the frame crossed its departure; `unknown`: no such console.
 */
export type RouteResult = 'delivered' | 'departed' | 'unknown';

export type RelayCharge =
  | { ok: true; pairBytes: number; projectBytesToday: number; /** the recipient's instance, when it is remote */ instance?: string }
  | { ok: false; refusal: 'departed' | 'unknown' }
  | { ok: false; refusal: RelayRefusal };

export interface ClusterInbound {
  /** A presence frame about a member of another instance, for this instance's members of `project`. */
  presence(project: string, frame: ServerFrame, subjectPeerId: string): void;
  /** A frame routed to a member of this instance; false if it is not here (any more). */
  deliver(project: string, toPeerId: string, frame: ServerFrame): boolean;
  /** Another instance took over this peer_id: end the local connection (REPLACED). */
  kick(project: string, peerId: string): void;
  /** An invite was revoked at another instance: end the local connections it admitted. */
  inviteRevoked(inviteId: string): void;
  /** The shared state is reachable again after an outage: announce this instance's members anew. */
  recovered(): void;
}

export interface Cluster {
  readonly instanceId: string;
  /** False while the shared state is unreachable: the instance refuses new joins. */
  healthy(): boolean;
  /** Members of `project` connected to other instances. */
  remoteMembers(project: string): Promise<PeerInfo[]>;
  /** A member joined here, or renamed itself: tell the others (and end an older connection of the same peer_id elsewhere). */
  announceJoin(project: string, info: PeerInfo): Promise<void>;
  announceLeave(project: string, peerId: string, reason: LeaveReason): Promise<void>;
  /** Routes a frame to a member on another instance. */
  route(project: string, toPeerId: string, frame: ServerFrame): Promise<RouteResult>;
  /** Sends a frame to a member of a known instance; false if that instance is gone. */
  sendTo(instance: string, project: string, toPeerId: string, frame: ServerFrame): Promise<boolean>;
  /** The project's relay bytes today across instances, as last seen (0 when unknown). */
  projectBytesToday(project: string): number;
  /**
   * Charges a relay frame to the shared budgets (pair, project, day) and counters, in one atomic
   * step that first finds the recipient when it is `remote` (on another instance): nothing is
   * counted, and no state is created, for a recipient that is not a member.
   */
  chargeRelay(project: string, from: string, to: string, bytes: number, budget: RelayBudget, remote: boolean): Promise<RelayCharge>;
  /** Refuses the invite at every instance from now until it expires, and ends the connections it admitted. */
  revokeInvite(inviteId: string, expiresAt: number): Promise<void>;
  /** Whether an instance revoked the invite. */
  isInviteRevoked(inviteId: string): Promise<boolean>;
  /** True for the first instance to claim `key` within `ttlMs` (an early hello's nonce, accepted once across instances). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Keeps this instance's members alive and expires dead instances' members. */
  heartbeat(localMembers: Array<{ project: string; peerId: string }>): Promise<void>;
  close(): Promise<void>;
}
