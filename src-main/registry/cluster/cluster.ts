/**
 * What one registry instance needs from the others when several share a project space.
 * Single-process registries have no cluster (undefined); `RedisCluster` implements it over Redis.
 */
import type { PeerInfo, ServerFrame } from '../../../src-shared/protocol/signaling';

export interface ClusterInbound {
  /** A presence frame about a member of another instance, for this instance's members of `project`. */
  presence(project: string, frame: ServerFrame, subjectPeerId: string): void;
  /** A frame routed to a member of this instance; false if it is not here (any more). */
  deliver(project: string, toPeerId: string, frame: ServerFrame): boolean;
  /** Another instance took over this peer_id: end the local connection (REPLACED). */
  kick(project: string, peerId: string): void;
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
  announceLeave(project: string, peerId: string, reason: 'closed' | 'timeout'): Promise<void>;
  /** Routes a frame to a member on another instance; false if no instance has it. */
  route(project: string, toPeerId: string, frame: ServerFrame): Promise<boolean>;
  /** The project's relay bytes today across instances, as last seen (0 when unknown). */
  projectBytesToday(project: string): number;
  /** Adds relay bytes to the shared counters; resolves with the totals after the addition. */
  countRelay(project: string, pairKey: string, bytes: number): Promise<{ pairBytes: number; projectBytesToday: number } | undefined>;
  /** Keeps this instance's members alive and expires dead instances' members. */
  heartbeat(localMembers: Array<{ project: string; peerId: string }>): Promise<void>;
  close(): Promise<void>;
}
