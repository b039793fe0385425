/** Which consoles are in which project. Projects never see each other. */
import type { PeerInfo, ServerFrame } from '../../src-shared/protocol/signaling';

export interface Member {
  readonly peerId: string;
  /** As peers are told of it. */
  readonly info: PeerInfo;
  /** The invite (its `jti`) this connection was admitted with. */
  inviteId: string;
  /** `message`: the frame as a whole WebSocket message (ws-frame.ts), when the caller has it (a forwarded signal). */
  send(frame: ServerFrame, message?: Buffer): void;
  /** Bytes queued towards this console and not yet sent (a slow consumer has many). */
  queuedBytes(): number;
  /** Ends this connection: a newer one took over its peer_id (REPLACED), or its invite was revoked. */
  kick(code?: 'REPLACED' | 'INVITE_REVOKED'): void;
}

export class ProjectDirectory {
  private readonly projects = new Map<string, Map<string, Member>>();

  get projectCount(): number {
    return this.projects.size;
  }

  get memberCount(): number {
    let count = 0;
    for (const members of this.projects.values()) count += members.size;
    return count;
  }

  projectIds(): string[] {
    return [...this.projects.keys()];
  }

  members(project: string): Member[] {
    return [...(this.projects.get(project)?.values() ?? [])];
  }

  get(project: string, peerId: string): Member | undefined {
    return this.projects.get(project)?.get(peerId);
  }

  size(project: string): number {
    return this.projects.get(project)?.size ?? 0;
  }

  /** Adds or replaces; returns the member it replaced (same peer_id), if any. */
  put(project: string, member: Member): Member | undefined {
    let members = this.projects.get(project);
    if (!members) this.projects.set(project, (members = new Map()));
    const previous = members.get(member.peerId);
    members.set(member.peerId, member);
    return previous;
  }

  /** Removes `member` only if it is still the current holder of its peer_id. */
  remove(project: string, member: Member): boolean {
    const members = this.projects.get(project);
    if (members?.get(member.peerId) !== member) return false;
    members.delete(member.peerId);
    if (members.size === 0) this.projects.delete(project);
    return true;
  }

  /** Members admitted with the invite `inviteId`, in every project. */
  admittedBy(inviteId: string): Member[] {
    return [...this.projects.values()].flatMap((members) => [...members.values()].filter((m) => m.inviteId === inviteId));
  }

  broadcast(project: string, frame: ServerFrame, except?: string): void {
    for (const member of this.members(project)) if (member.peerId !== except) member.send(frame);
  }
}
