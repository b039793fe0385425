/**
 * Several registry instances, one project space, over Redis: presence in hashes with per-member
 * liveness keys that expire, routing over pub/sub (one channel per instance, one for presence),
 * relay budgets and counters in shared keys. Without `--redis` none of this runs.
 *
 * Keys (prefix `wsp:`):
 *   members:<project>              hash peer_id → MessagePack [instanceId, PeerInfo]
 *   alive:<project>:<peer_id>      instanceId, expires after 3 heartbeats unless refreshed
 *   left:<project>:<peer_id>       a member that left lately (DEPARTURE_GRACE_MS)
 *   relay:pair:<project>:<pair>    relay bytes of a pair (30 days); only for pairs of members
 *   relay:day:<project>:<day>      relay bytes of a project on a UTC day (2 days)
 *   relay:bucket:<project>:<pair>  a pair's bytes-per-second bucket (tokens, at), kept for its window
 *   relay:rate:<project>           the project's bytes-per-second bucket, kept for its window
 *   revoked:<jti>                  a revoked invite, until it would have expired
 * Channels: `wsp:presence` (joined/left/revoked, all instances), `wsp:inst:<id>` (frames and kicks).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { decode, encode } from '@msgpack/msgpack';
import type { Logger } from 'pino';
import type { LeaveReason, PeerInfo, ServerFrame } from '../../../src-shared/protocol/signaling';
import { peerInfoSchema, serverFrameSchema } from '../../../src-shared/protocol/signaling';
import type { Cluster, ClusterInbound, RelayCharge, RouteResult } from './cluster';
import { DEPARTURE_GRACE_MS } from '../departures';
import { BURST_SECONDS, utcDay, type RelayBudget, type RelayRefusal } from '../relay-accounting';

const PREFIX = 'wsp:';
const PRESENCE_CHANNEL = `${PREFIX}presence`;
const instanceChannel = (id: string) => `${PREFIX}inst:${id}`;
const membersKey = (project: string) => `${PREFIX}members:${project}`;
const aliveKey = (project: string, peerId: string) => `${PREFIX}alive:${project}:${peerId}`;
const leftKey = (project: string, peerId: string) => `${PREFIX}left:${project}:${peerId}`;
const revokedKey = (inviteId: string) => `${PREFIX}revoked:${inviteId}`;

/**
 * One relay frame's charge, atomic across instances. With a recipient to find (ARGV[1]), nothing
 * is read beyond the members hash and the departure marker unless it is a member: frames to
 * consoles that do not exist create no key and cost nothing. Then the day total, the pair's bucket
 * and the project's bucket are checked, and only if all pass are they charged. Time is Redis's,
 * so instances with skewed clocks share one bucket correctly.
 * KEYS: members, left marker, pair bucket, project bucket, day total, pair total.
 * ARGV: recipient peer_id or '', bytes, pair rate, project rate, burst seconds, day budget, day TTL ms, pair total TTL ms.
 */
const RELAY_CHARGE_SCRIPT = `
local member = ''
if ARGV[1] ~= '' then
  member = redis.call('HGET', KEYS[1], ARGV[1])
  if not member then
    if redis.call('EXISTS', KEYS[2]) == 1 then return {'departed'} end
    return {'unknown'}
  end
end
local bytes = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[5])
if tonumber(redis.call('GET', KEYS[5]) or '0') + bytes > tonumber(ARGV[6]) then return {'day'} end
local function level(key, rate)
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]), tonumber(state[2])
  if not tokens then return rate * burst end
  return math.min(rate * burst, tokens + math.max(0, now - at) * rate / 1000)
end
local pairTokens = level(KEYS[3], tonumber(ARGV[3]))
if pairTokens < bytes then return {'pair'} end
local projectTokens = level(KEYS[4], tonumber(ARGV[4]))
if projectTokens < bytes then return {'project'} end
local window = math.ceil(burst * 1000) + 1000
redis.call('HSET', KEYS[3], 'tokens', tostring(pairTokens - bytes), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[3], window)
redis.call('HSET', KEYS[4], 'tokens', tostring(projectTokens - bytes), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[4], window)
local day = redis.call('INCRBY', KEYS[5], bytes)
redis.call('PEXPIRE', KEYS[5], ARGV[7])
local pair = redis.call('INCRBY', KEYS[6], bytes)
redis.call('PEXPIRE', KEYS[6], ARGV[8])
return {'ok', member, pair, day}
`;

interface RelayChargeCommand {
  wspRelayChargeBuffer(...args: Array<string | number>): Promise<[Buffer, Buffer?, number?, number?]>;
}

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
    this.commands.defineCommand('wspRelayCharge', { numberOfKeys: 6, lua: RELAY_CHARGE_SCRIPT });
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

  async announceLeave(project: string, peerId: string, reason: LeaveReason): Promise<void> {
    // Only the instance that holds the member removes it: a newer connection elsewhere may own it now.
    const current = this.decodeMember((await this.commands.hgetBuffer(membersKey(project), peerId)) ?? undefined);
    if (current?.instance !== this.instanceId) return;
    await this.commands.multi().hdel(membersKey(project), peerId).del(aliveKey(project, peerId)).set(leftKey(project, peerId), '1', 'PX', DEPARTURE_GRACE_MS).exec();
    await this.commands.publish(PRESENCE_CHANNEL, Buffer.from(encode(['left', this.instanceId, project, peerId, reason])));
  }

  async route(project: string, toPeerId: string, frame: ServerFrame): Promise<RouteResult> {
    const entry = this.decodeMember((await this.commands.hgetBuffer(membersKey(project), toPeerId)) ?? undefined);
    // An entry of this instance's that it no longer holds is a departure not yet written.
    if (entry?.instance === this.instanceId) return 'departed';
    if (!entry) return (await this.commands.exists(leftKey(project, toPeerId))) ? 'departed' : 'unknown';
    return (await this.sendTo(entry.instance, project, toPeerId, frame)) ? 'delivered' : 'departed';
  }

  async sendTo(instance: string, project: string, toPeerId: string, frame: ServerFrame): Promise<boolean> {
    return (await this.commands.publish(instanceChannel(instance), Buffer.from(encode(['frame', project, toPeerId, frame])))) > 0;
  }

  async chargeRelay(project: string, from: string, to: string, bytes: number, budget: RelayBudget, remote: boolean): Promise<RelayCharge> {
    const pairKey = from < to ? `${from}:${to}` : `${to}:${from}`;
    const day = utcDay(Date.now());
    const [status, member, pairBytes, projectBytesToday] = await (this.commands as unknown as RelayChargeCommand).wspRelayChargeBuffer(
      membersKey(project),
      leftKey(project, to),
      `${PREFIX}relay:bucket:${project}:${pairKey}`,
      `${PREFIX}relay:rate:${project}`,
      `${PREFIX}relay:day:${project}:${day}`,
      `${PREFIX}relay:pair:${project}:${pairKey}`,
      remote ? to : '',
      bytes,
      budget.pairBytesPerSecond,
      budget.projectBytesPerSecond,
      BURST_SECONDS,
      budget.projectBytesPerDay,
      2 * 86_400_000,
      30 * 86_400_000,
    );
    const outcome = status.toString();
    if (outcome !== 'ok') return { ok: false, refusal: outcome as RelayRefusal | 'departed' | 'unknown' };
    this.projectTotals.set(project, { day, bytes: Number(projectBytesToday) });
    const entry = remote ? this.decodeMember(member) : undefined;
    // Charged, but the member is this instance's own stale entry: it has just left here.
    if (remote && (!entry || entry.instance === this.instanceId)) return { ok: false, refusal: 'departed' };
    return { ok: true, pairBytes: Number(pairBytes), projectBytesToday: Number(projectBytesToday), ...(entry ? { instance: entry.instance } : {}) };
  }

  projectBytesToday(project: string): number {
    const known = this.projectTotals.get(project);
    return known && known.day === utcDay(Date.now()) ? known.bytes : 0;
  }

  async revokeInvite(inviteId: string, expiresAt: number): Promise<void> {
    if (expiresAt > Date.now()) await this.commands.set(revokedKey(inviteId), '1', 'PXAT', expiresAt);
    await this.commands.publish(PRESENCE_CHANNEL, Buffer.from(encode(['revoked', this.instanceId, inviteId])));
  }

  async isInviteRevoked(inviteId: string): Promise<boolean> {
    return (await this.commands.exists(revokedKey(inviteId))) === 1;
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return (await this.commands.set(`${PREFIX}${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
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
          await this.commands.set(leftKey(project, peerId), '1', 'PX', DEPARTURE_GRACE_MS);
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
      if (kind === 'revoked') return this.options.inbound.inviteRevoked(project); // the third item is the invite's id
      if (kind === 'joined') {
        const info = peerInfoSchema.safeParse(value[3]);
        if (info.success) this.options.inbound.presence(project, { type: 'peer_joined', peer: info.data }, info.data.peer_id);
      } else if (kind === 'left' && typeof value[3] === 'string') {
        const reason = value[4] === 'timeout' || value[4] === 'kicked' ? value[4] : 'closed';
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
    if (!value?.length) return undefined;
    try {
      const [instance, raw] = decode(value) as [string, unknown];
      const info = peerInfoSchema.safeParse(raw);
      return info.success && typeof instance === 'string' ? { instance, info: info.data } : undefined;
    } catch {
      return undefined;
    }
  }
}
