/**
 * Several registry instances, one project space, over Redis: presence in hashes with per-member
 * liveness keys that expire, routing over pub/sub (one channel per instance, one for presence),
 * relay bytes in shared counters. Without `--redis` none of this runs.
 *
 * Keys (prefix `wsp:`):
 *   members:<project>            hash peer_id → MessagePack [instanceId, PeerInfo]
 *   alive:<project>:<peer_id>    instanceId, expires after 3 heartbeats unless refreshed
 *   relay:pair:<project>:<pair>  relay bytes of a pair (30 days)
 *   relay:day:<project>:<day>    relay bytes of a project on a UTC day (2 days)
 * Channels: `wsp:presence` (joined/left, all instances), `wsp:inst:<id>` (frames and kicks).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { decode, encode } from '@msgpack/msgpack';
import type { Logger } from 'pino';
import type { PeerInfo, ServerFrame } from '../../../src-shared/protocol/signaling';
import { peerInfoSchema, serverFrameSchema } from '../../../src-shared/protocol/signaling';
import type { Cluster, ClusterInbound } from './cluster';

const PREFIX = 'wsp:';
const PRESENCE_CHANNEL = `${PREFIX}presence`;
const instanceChannel = (id: string) => `${PREFIX}inst:${id}`;
const membersKey = (project: string) => `${PREFIX}members:${project}`;
const aliveKey = (project: string, peerId: string) => `${PREFIX}alive:${project}:${peerId}`;

export interface RedisClusterOptions {
  url: string;
  heartbeatMs: number;
  logger: Logger;
  inbound: ClusterInbound;
}

export class RedisCluster implements Cluster {
  readonly instanceId = randomUUID();
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private up = false;
  private readonly localProjects = new Set<string>();
  private readonly ttlMs: number;
  private readonly projectTotals = new Map<string, { day: number; bytes: number }>();

  private constructor(private readonly options: RedisClusterOptions) {
    this.ttlMs = options.heartbeatMs * 3;
    // Fail fast while Redis is away (no offline queue): the instance reports unhealthy and refuses
    // joins instead of hanging; ioredis reconnects by itself.
    const common = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: (n: number) => Math.min(n * 200, 2000) };
    this.commands = new Redis(options.url, common);
    this.subscriber = new Redis(options.url, { ...common, enableOfflineQueue: true });
    this.commands.on('ready', () => this.onReady());
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (error: Error) => options.logger.warn({ err: error.message }, 'redis error'));
      client.on('close', () => this.setUp(false));
    }
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
  }

  static async connect(options: RedisClusterOptions): Promise<RedisCluster> {
    const cluster = new RedisCluster(options);
    await Promise.all([cluster.commands.connect(), cluster.subscriber.connect()]);
    await cluster.subscriber.subscribe(PRESENCE_CHANNEL, instanceChannel(cluster.instanceId));
    cluster.up = true;
    return cluster;
  }

  healthy(): boolean {
    return this.up && this.commands.status === 'ready' && this.subscriber.status === 'ready';
  }

  async remoteMembers(project: string): Promise<PeerInfo[]> {
    const entries = await this.commands.hgetallBuffer(membersKey(project));
    const members: PeerInfo[] = [];
    for (const value of Object.values(entries)) {
      const entry = this.decodeMember(value);
      if (entry && entry.instance !== this.instanceId) members.push(entry.info);
    }
    return members;
  }

  async announceJoin(project: string, info: PeerInfo): Promise<void> {
    this.localProjects.add(project);
    const previous = this.decodeMember((await this.commands.hgetBuffer(membersKey(project), info.peer_id)) ?? undefined);
    await this.commands
      .multi()
      .hset(membersKey(project), info.peer_id, Buffer.from(encode([this.instanceId, info])))
      .set(aliveKey(project, info.peer_id), this.instanceId, 'PX', this.ttlMs)
      .exec();
    if (previous && previous.instance !== this.instanceId) {
      await this.commands.publish(instanceChannel(previous.instance), Buffer.from(encode(['kick', project, info.peer_id])));
    }
    await this.commands.publish(PRESENCE_CHANNEL, Buffer.from(encode(['joined', this.instanceId, project, info])));
  }

  async announceLeave(project: string, peerId: string, reason: 'closed' | 'timeout'): Promise<void> {
    // Only the instance that holds the member removes it: a newer connection elsewhere may own it now.
    const current = this.decodeMember((await this.commands.hgetBuffer(membersKey(project), peerId)) ?? undefined);
    if (current?.instance !== this.instanceId) return;
    await this.commands.multi().hdel(membersKey(project), peerId).del(aliveKey(project, peerId)).exec();
    await this.commands.publish(PRESENCE_CHANNEL, Buffer.from(encode(['left', this.instanceId, project, peerId, reason])));
  }

  async route(project: string, toPeerId: string, frame: ServerFrame): Promise<boolean> {
    const entry = this.decodeMember((await this.commands.hgetBuffer(membersKey(project), toPeerId)) ?? undefined);
    if (!entry || entry.instance === this.instanceId) return false;
    const receivers = await this.commands.publish(instanceChannel(entry.instance), Buffer.from(encode(['frame', project, toPeerId, frame])));
    return receivers > 0;
  }

  async countRelay(project: string, pairKey: string, bytes: number): Promise<{ pairBytes: number; projectBytesToday: number } | undefined> {
    const day = Math.floor(Date.now() / 86_400_000);
    const pair = `${PREFIX}relay:pair:${project}:${pairKey}`;
    const daily = `${PREFIX}relay:day:${project}:${day}`;
    const results = await this.commands.multi().incrby(pair, bytes).pexpire(pair, 30 * 86_400_000).incrby(daily, bytes).pexpire(daily, 2 * 86_400_000).exec();
    if (!results) return undefined;
    const totals = { pairBytes: Number(results[0]![1]), projectBytesToday: Number(results[2]![1]) };
    this.projectTotals.set(project, { day, bytes: totals.projectBytesToday });
    return totals;
  }

  projectBytesToday(project: string): number {
    const known = this.projectTotals.get(project);
    return known && known.day === Math.floor(Date.now() / 86_400_000) ? known.bytes : 0;
  }

  async heartbeat(localMembers: Array<{ project: string; peerId: string }>): Promise<void> {
    if (!this.healthy()) return;
    const refresh = this.commands.pipeline();
    for (const { project, peerId } of localMembers) refresh.set(aliveKey(project, peerId), this.instanceId, 'PX', this.ttlMs);
    await refresh.exec();
    this.localProjects.clear();
    for (const { project } of localMembers) this.localProjects.add(project);
    // Expire the members of instances that died: their liveness keys are gone.
    for (const project of this.localProjects) {
      const entries = await this.commands.hgetallBuffer(membersKey(project));
      for (const [peerId, value] of Object.entries(entries)) {
        const entry = this.decodeMember(value);
        if (!entry || entry.instance === this.instanceId) continue;
        if (await this.commands.exists(aliveKey(project, peerId))) continue;
        // HDEL returns 1 for exactly one instance: that one announces the departure.
        if ((await this.commands.hdel(membersKey(project), peerId)) === 1) {
          this.options.logger.info({ project, peer_id: peerId }, 'member of a dead instance expired');
          await this.commands.publish(PRESENCE_CHANNEL, Buffer.from(encode(['left', this.instanceId, project, peerId, 'timeout'])));
          this.options.inbound.presence(project, { type: 'peer_left', peer_id: peerId, reason: 'timeout' }, peerId);
        }
      }
    }
  }

  async close(): Promise<void> {
    this.setUp(false);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  private setUp(up: boolean): void {
    if (up !== this.up) this.options.logger.info({ redis: up ? 'up' : 'down' }, 'cluster state');
    this.up = up;
  }

  /** Redis is back: the instance becomes healthy again once its members are registered anew. */
  private onReady(): void {
    if (this.up) return;
    this.setUp(true);
    this.options.inbound.recovered();
  }

  private onMessage(channel: string, message: Buffer): void {
    let value: unknown[];
    try {
      value = decode(message) as unknown[];
    } catch {
      return;
    }
    if (!Array.isArray(value)) return;
    if (channel === PRESENCE_CHANNEL) {
      const [kind, origin, project] = value as [string, string, string];
      if (origin === this.instanceId || typeof project !== 'string') return;
      if (kind === 'joined') {
        const info = peerInfoSchema.safeParse(value[3]);
        if (info.success) this.options.inbound.presence(project, { type: 'peer_joined', peer: info.data }, info.data.peer_id);
      } else if (kind === 'left' && typeof value[3] === 'string') {
        const reason = value[4] === 'timeout' ? 'timeout' : 'closed';
        this.options.inbound.presence(project, { type: 'peer_left', peer_id: value[3], reason }, value[3]);
      }
      return;
    }
    const [kind, project, peerId] = value as [string, string, string];
    if (kind === 'kick') this.options.inbound.kick(project, peerId);
    else if (kind === 'frame') {
      const frame = serverFrameSchema.safeParse(value[3]);
      if (frame.success) this.options.inbound.deliver(project, peerId, frame.data);
    }
  }

  private decodeMember(value: Buffer | undefined): { instance: string; info: PeerInfo } | undefined {
    if (!value) return undefined;
    try {
      const [instance, raw] = decode(value) as [string, unknown];
      const info = peerInfoSchema.safeParse(raw);
      return info.success && typeof instance === 'string' ? { instance, info: info.data } : undefined;
    } catch {
      return undefined;
    }
  }
}
