/**
 * Application messages on the peer links, routed by channel. Every message is a MessagePack map
 * with a string `t` (its type); a channel owns a set of types — listed, or every type under a
 * prefix — with one schema and one handler. A message goes to the one channel that owns its type,
 * checked against that channel's schema once; a message no channel owns is counted (diagnostics)
 * and goes nowhere. So the workstream need not know the file transfers' prefix, and nothing runs
 * a schema over messages that are not its own.
 */
import type { z } from '../../src-shared/zod';

export interface ChannelSpec<M extends { t: string }> {
  /** For diagnostics and errors. */
  name: string;
  /** The message types it owns: exactly these, or (`prefix`) every type starting with it. */
  types: readonly string[] | { prefix: string };
  schema: z.ZodType<M>;
  /** A message of the channel, as the schema parsed it. */
  handle(peerId: string, message: M): void;
  /** A message of the channel's types that its schema refused (`issue`: where and why). */
  invalid?(peerId: string, type: string, issue: string): void;
}

/** What an application needs of the links (LinkManager; a fake in tests): their events and a channel. */
export interface LinkBus {
  /**
   * `reset`: the peer restarted or made its link again, so what was in flight to its old end is
   * gone; `held`: the application no longer admits it (its link, if any, is closed too).
   */
  on(event: 'open' | 'closed' | 'reset' | 'held', listener: (e: { peerId: string }) => void): () => void;
  channel<M extends { t: string }>(spec: ChannelSpec<M>): Channel<M>;
}

/** How a channel sends: its own messages only. */
export interface Channel<M extends { t: string }> {
  /** A Uint8Array of 64 KiB or more in the message is read as it goes out: leave it unchanged until this resolves. */
  send(peerId: string, message: M): Promise<void>;
  /** Unregisters: its types are unrouted from then on. */
  close(): void;
}

/** Messages no channel took (no `t`, or a type nobody owns; counted per type, for the first types seen) and messages a channel's schema refused. */
export interface ChannelStats {
  unrouted: number;
  invalid: number;
  unroutedTypes: Record<string, number>;
}

const MAX_TYPES_COUNTED = 32;

export class ChannelRouter {
  private readonly exact = new Map<string, ChannelSpec<{ t: string }>>();
  private prefixes: Array<{ prefix: string; spec: ChannelSpec<{ t: string }> }> = [];
  private readonly counts: ChannelStats = { unrouted: 0, invalid: 0, unroutedTypes: {} };

  /** Registers a channel; throws if one of its types is another channel's already (every type has one owner). */
  register<M extends { t: string }>(spec: ChannelSpec<M>): () => void {
    const s = spec as unknown as ChannelSpec<{ t: string }>;
    if ('prefix' in spec.types) {
      const { prefix } = spec.types;
      if (!prefix) throw new Error(`channel ${spec.name}: an empty prefix would own every message`);
      const clash = this.prefixes.find((p) => p.prefix.startsWith(prefix) || prefix.startsWith(p.prefix))?.spec ?? [...this.exact.entries()].find(([t]) => t.startsWith(prefix))?.[1];
      if (clash) throw new Error(`channel ${spec.name}: prefix ${prefix} overlaps channel ${clash.name}`);
      this.prefixes = [...this.prefixes, { prefix, spec: s }];
      return () => void (this.prefixes = this.prefixes.filter((p) => p.spec !== s));
    }
    for (const t of spec.types) {
      const clash = this.channelOf(t);
      if (clash) throw new Error(`channel ${spec.name}: type ${t} is channel ${clash.name}'s`);
    }
    for (const t of spec.types) this.exact.set(t, s);
    return () => {
      for (const t of spec.types as readonly string[]) if (this.exact.get(t) === s) this.exact.delete(t);
    };
  }

  /** Hands a message to its channel; false if none owns it (then it is counted). */
  dispatch(peerId: string, message: unknown): boolean {
    const t = (message as { t?: unknown } | null)?.t;
    const spec = typeof t === 'string' ? this.channelOf(t) : undefined;
    if (!spec) {
      this.counts.unrouted++;
      const key = typeof t === 'string' ? t.slice(0, 32) : '(no type)';
      if (key in this.counts.unroutedTypes || Object.keys(this.counts.unroutedTypes).length < MAX_TYPES_COUNTED) this.counts.unroutedTypes[key] = (this.counts.unroutedTypes[key] ?? 0) + 1;
      return false;
    }
    const parsed = spec.schema.safeParse(message);
    if (!parsed.success) {
      this.counts.invalid++;
      const issue = parsed.error.issues[0];
      spec.invalid?.(peerId, t as string, `${issue?.path.join('.') || 'message'}: ${issue?.message}`);
      return true;
    }
    spec.handle(peerId, parsed.data);
    return true;
  }

  stats(): ChannelStats {
    return { ...this.counts, unroutedTypes: { ...this.counts.unroutedTypes } };
  }

  private channelOf(t: string): ChannelSpec<{ t: string }> | undefined {
    return this.exact.get(t) ?? this.prefixes.find((p) => t.startsWith(p.prefix))?.spec;
  }
}
