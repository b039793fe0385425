/**
 * Replicates the workstream log over the peer links (direct or relayed: this layer cannot tell).
 *
 * On every link open the two consoles swap per-author high-water marks (`ws-hello`) and each
 * sends what the other lacks (`ws-entries`, in order, in batches). New entries are pushed to every
 * linked console and forwarded by each console that stores them, so a console linked to only some
 * of the project still receives everything; duplicates are dropped by author + sequence. A gap in
 * an author's sequence is asked for (`ws-want`) from the console whose entry revealed it.
 *
 * Forwarding is pruned without losing anything: every console tells its peers which consoles it
 * is linked with (`ws-links`), and an entry is not forwarded to a console that is linked with
 * its author (the author pushed it there itself). What a lost message or a link that dropped at
 * the wrong moment leaves out is repaired by the hello on every link open and by the periodic
 * hellos (anti-entropy): every ANTI_ENTROPY_MS on each link, and at most HELLOS_PER_ROUND of them
 * per ANTI_ENTROPY_MS in all, taken in turn, so that a console's idle traffic does not grow with
 * the project (a hello carries every author's head: one to each of 199 peers every 15 s was
 * O(N²) bytes a round; in turn, a project of 200 has each link's hello every ~5 min).
 *
 * Delivery is confirmed by the receiver, not assumed by the sender: a console answers entries it
 * receives with `ws-have` (its heads for their authors), and its hellos say the same. So the GUI
 * can show an own entry as not yet delivered to the linked consoles that have not said they hold
 * it (`unconfirmed`); what was handed to a link may still be waiting in it (a relay whose registry
 * is away).
 */
import { z } from '../../../src-shared/zod';
import { bytes, peerIdSchema } from '../../../src-shared/protocol/signaling';
import type { Entry } from '../../../src-shared/workstream/entry';
import { MAX_RUN_ENTRIES, packEntries } from '../../../src-shared/workstream/chain';
import { Emitter } from '../emitter';
import { equalBytes } from '../../../src-shared/bytes';
import type { Channel, LinkBus } from '../channels';
import type { Gap, WorkstreamLog } from './workstream-log';

export type { LinkBus } from '../channels';

const MAX_AUTHORS = 10_000;
export const ANTI_ENTROPY_MS = 15_000;
/** Periodic hellos a console sends per ANTI_ENTROPY_MS at most, one at a time. */
export const HELLOS_PER_ROUND = 10;
/** Confirmations of entries received close together go out in one `ws-have`. */
const HAVE_DELAY_MS = 50;
/**
 * A console tells its peers whom it is linked with (`ws-links`) at most this long after a link
 * opened, and after one closed. Until a peer hears of a new link it forwards that console's
 * entries here too (dropped as duplicates): no hurry, and links open in bursts (consoles joining
 * together), each of which would otherwise be told to every peer on its own. A lost link is told
 * at once, or peers would keep from forwarding what this console no longer receives from that
 * author.
 */
const LINK_OPENED_NEWS_MS = 1000;
const LINK_CLOSED_NEWS_MS = 100;
const linksSchema = z.array(peerIdSchema).max(MAX_AUTHORS);

const seqSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const syncMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('ws-hello'),
    project: z.string(),
    heads: z.record(peerIdSchema, seqSchema).refine((h) => Object.keys(h).length <= MAX_AUTHORS, 'too many authors'),
    links: linksSchema.optional(),
    /** Per author, the chain digest at `heads[author]` (see WorkstreamLog.chainDigest). */
    chains: z.record(peerIdSchema, bytes({ exact: 16 })).refine((h) => Object.keys(h).length <= MAX_AUTHORS, 'too many authors').optional(),
  }),
  z.object({ t: z.literal('ws-links'), project: z.string(), links: linksSchema }),
  // Entries are checked by the log, run by run (chain.ts): a bad one must not hide the good ones.
  z.object({ t: z.literal('ws-entries'), project: z.string(), entries: z.array(z.unknown()).max(MAX_RUN_ENTRIES) }),
  z.object({ t: z.literal('ws-want'), project: z.string(), author: peerIdSchema, from: seqSchema, to: seqSchema }),
  /** What the sender holds of the authors of entries it just received (confirms their delivery). */
  z.object({ t: z.literal('ws-have'), project: z.string(), heads: z.record(peerIdSchema, seqSchema).refine((h) => Object.keys(h).length <= MAX_AUTHORS, 'too many authors') }),
]);
export type SyncMessage = z.infer<typeof syncMessageSchema>;
/** The replication channel's message types (file transfers have their own channel: file-transfers.ts). */
export const SYNC_MESSAGE_TYPES = ['ws-hello', 'ws-links', 'ws-entries', 'ws-want', 'ws-have'] as const satisfies ReadonlyArray<SyncMessage['t']>;

export interface SyncProblem {
  peerId: string;
  code: 'MALFORMED_MESSAGE' | 'WRONG_PROJECT';
  message: string;
}

export class WorkstreamSync extends Emitter<{ confirmations: void }> {
  private readonly linked = new Set<string>();
  /** What each linked console said it holds (its hellos and `ws-have`): per author, the contiguous head. */
  private readonly confirmed = new Map<string, Map<string, number>>();
  /** Authors whose heads are owed to a console, in a `ws-have` about to go. */
  private readonly haveOwed = new Map<string, Set<string>>();
  private haveTimer: ReturnType<typeof setTimeout> | undefined;
  /** What each linked console is known to hold (its hello, and what went either way since). */
  private readonly peerHeads = new Map<string, Map<string, number>>();
  /** Catch-ups under way: `<peer>:<author>`. */
  private readonly catchingUp = new Set<string>();
  /** Divergent histories already sent to a console (peer, author, number), so they go once. */
  private readonly divergenceSent = new Set<string>();
  /** The consoles each linked console says it is linked with. */
  private readonly peerLinks = new Map<string, Set<string>>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly antiEntropy: ReturnType<typeof setInterval>;
  private linksChanged: ReturnType<typeof setTimeout> | undefined;
  private linksNewsDueAt = Infinity;
  /** The links each linked console was last told of (its hello or `ws-links`), as a key. */
  private readonly linksTold = new Map<string, string>();
  /** When each linked console was last sent a hello (performance.now()). */
  private readonly lastHelloAt = new Map<string, number>();
  private readonly channel: Channel<SyncMessage>;

  constructor(
    private readonly log: WorkstreamLog,
    links: LinkBus,
    private readonly onProblem: (problem: SyncProblem) => void = () => undefined,
    antiEntropyMs = ANTI_ENTROPY_MS,
  ) {
    super();
    this.channel = links.channel<SyncMessage>({
      name: 'workstream',
      types: SYNC_MESSAGE_TYPES,
      schema: syncMessageSchema,
      handle: (peerId, message) => this.onMessage(peerId, message),
      invalid: (peerId, t, issue) => this.onProblem({ peerId, code: 'MALFORMED_MESSAGE', message: `${t}: ${issue}` }),
    });
    this.unsubscribe.push(
      () => this.channel.close(),
      links.on('open', ({ peerId }) => this.onOpen(peerId)),
      links.on('closed', ({ peerId }) => {
        this.linked.delete(peerId);
        this.peerHeads.delete(peerId);
        this.lastHelloAt.delete(peerId);
        this.peerLinks.delete(peerId);
        this.confirmed.delete(peerId);
        this.haveOwed.delete(peerId);
        this.linksTold.delete(peerId);
        this.announceLinks(LINK_CLOSED_NEWS_MS);
        this.emit('confirmations', undefined);
      }),
      log.on('added', ({ entries, from }) => this.push(entries, from)),
      // An equivocation is passed on, so that every console refuses it and says so.
      log.on('rejected', ({ evidence, from }) => {
        if (!evidence) return;
        for (const peerId of this.linked) if (peerId !== from) for (const entries of evidence) this.sendTo(peerId, { t: 'ws-entries', project: this.log.project, entries });
      }),
    );
    // Each tick, the linked console whose last hello is oldest, once that is antiEntropyMs ago.
    this.antiEntropy = setInterval(() => {
      let due: string | undefined;
      let oldest = performance.now() - antiEntropyMs;
      for (const peerId of this.linked) {
        const at = this.lastHelloAt.get(peerId) ?? -Infinity;
        if (at <= oldest) [due, oldest] = [peerId, at];
      }
      if (due) this.hello(due);
    }, antiEntropyMs / HELLOS_PER_ROUND);
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    clearInterval(this.antiEntropy);
    clearTimeout(this.linksChanged);
    clearTimeout(this.haveTimer);
    this.removeAllListeners();
  }

  /** The linked consoles that have not said they hold this author's entry `seq`. */
  unconfirmed(author: string, seq: number): string[] {
    return [...this.linked].filter((peerId) => (this.confirmed.get(peerId)?.get(author) ?? 0) < seq);
  }

  private onOpen(peerId: string): void {
    const known = this.linked.has(peerId);
    this.linked.add(peerId);
    this.peerHeads.set(peerId, new Map());
    this.hello(peerId);
    this.announceLinks(LINK_OPENED_NEWS_MS);
    if (!known) this.emit('confirmations', undefined);
  }

  private confirm(peerId: string, heads: Record<string, number>): void {
    const mine = this.confirmed.get(peerId) ?? new Map<string, number>();
    this.confirmed.set(peerId, mine);
    let changed = false;
    for (const [author, seq] of Object.entries(heads)) {
      if (seq > (mine.get(author) ?? 0)) {
        mine.set(author, seq);
        changed = true;
      }
    }
    if (changed) this.emit('confirmations', undefined);
  }

  /** Tells a console, shortly, what this one now holds of these authors (coalesced across batches). */
  private owe(peerId: string, authors: Iterable<string>): void {
    const owed = this.haveOwed.get(peerId) ?? new Set<string>();
    for (const author of authors) owed.add(author);
    if (owed.size === 0) return;
    this.haveOwed.set(peerId, owed);
    this.haveTimer ??= setTimeout(() => {
      this.haveTimer = undefined;
      const heads = this.log.highWaterMarks();
      for (const [to, authors] of this.haveOwed) {
        const have = Object.fromEntries([...authors].flatMap((a) => (heads[a] ? [[a, heads[a]] as const] : [])));
        if (Object.keys(have).length) this.sendTo(to, { t: 'ws-have', project: this.log.project, heads: have });
      }
      this.haveOwed.clear();
    }, HAVE_DELAY_MS);
  }

  private hello(peerId: string): void {
    const heads = this.log.highWaterMarks();
    const chains = Object.fromEntries(Object.entries(heads).map(([author, seq]) => [author, this.log.chainDigest(author, seq)!]));
    const links = [...this.linked];
    this.linksTold.set(peerId, linksKey(links));
    this.lastHelloAt.set(peerId, performance.now());
    this.sendTo(peerId, { t: 'ws-hello', project: this.log.project, heads, chains, links });
  }

  /** Tells every linked console whom this one is linked with, within `withinMs`, unless its last hello or `ws-links` already did. */
  private announceLinks(withinMs: number): void {
    const due = Date.now() + withinMs;
    if (this.linksChanged && this.linksNewsDueAt <= due) return;
    clearTimeout(this.linksChanged);
    this.linksNewsDueAt = due;
    this.linksChanged = setTimeout(() => {
      this.linksChanged = undefined;
      this.linksNewsDueAt = Infinity;
      const links = [...this.linked];
      const key = linksKey(links);
      for (const peerId of this.linked) {
        if (this.linksTold.get(peerId) === key) continue;
        this.linksTold.set(peerId, key);
        this.sendTo(peerId, { t: 'ws-links', project: this.log.project, links });
      }
    }, withinMs);
  }

  private onMessage(peerId: string, m: SyncMessage): void {
    if (m.project !== this.log.project) return this.onProblem({ peerId, code: 'WRONG_PROJECT', message: `${m.t} for project ${m.project}` });
    if (m.t === 'ws-hello') {
      if (m.links) this.peerLinks.set(peerId, new Set(m.links));
      this.confirm(peerId, m.heads);
      void this.answerHello(peerId, m.heads, m.chains ?? {});
    } else if (m.t === 'ws-have') this.confirm(peerId, m.heads);
    else if (m.t === 'ws-links') this.peerLinks.set(peerId, new Set(m.links));
    else if (m.t === 'ws-want') void this.sendRange(peerId, m.author, m.from, m.to);
    else void this.receive(peerId, m.entries);
  }

  private async answerHello(peerId: string, theirs: Record<string, number>, chains: Record<string, Uint8Array>): Promise<void> {
    const known = this.peerHeads.get(peerId) ?? new Map<string, number>();
    this.peerHeads.set(peerId, known);
    for (const [author, seq] of Object.entries(theirs)) known.set(author, Math.max(seq, known.get(author) ?? 0));
    // Same numbers, different entries: send ours up to theirs, so both see the conflict (once).
    for (const [author, digest] of Object.entries(chains)) {
      const seq = theirs[author] ?? 0;
      const mine = this.log.chainDigest(author, seq);
      const key = `${peerId}:${author}:${seq}`;
      if (!mine || equalBytes(mine, digest) || this.divergenceSent.has(key)) continue;
      this.divergenceSent.add(key);
      await this.sendRange(peerId, author, 1, seq);
    }
    for (const [author, mine] of Object.entries(this.log.highWaterMarks())) {
      const have = theirs[author] ?? 0;
      // A catch-up already under way to this console is not started twice by a later hello.
      const key = `${peerId}:${author}`;
      if (mine <= have || this.catchingUp.has(key)) continue;
      this.catchingUp.add(key);
      await this.sendRange(peerId, author, have + 1, mine).finally(() => this.catchingUp.delete(key));
    }
  }

  private async sendRange(peerId: string, author: string, from: number, to: number): Promise<void> {
    const entries = this.log.range(author, from, to);
    let seq = entries[0]?.seq ?? 0;
    for (const batch of packEntries(entries)) {
      seq += batch.length;
      this.noteSent(peerId, author, seq - 1);
      // Awaiting the link's window paces a large catch-up instead of queueing it all at once.
      if (!(await this.sendTo(peerId, { t: 'ws-entries', project: this.log.project, entries: batch }))) return;
    }
  }

  private async receive(peerId: string, items: unknown[]): Promise<void> {
    const { added, gaps, authors } = await this.log.ingest(items, peerId);
    for (const e of added) this.noteSent(peerId, e.author, e.seq); // it has what it sent us
    for (const gap of gaps) this.want(peerId, gap);
    // Confirmed whether new here or not: the sender may not know we had them already.
    this.owe(peerId, authors);
  }

  private want(peerId: string, gap: Gap): void {
    if (gap.to >= gap.from) this.sendTo(peerId, { t: 'ws-want', project: this.log.project, author: gap.author, from: gap.from, to: gap.to });
  }

  /** New entries go to every linked console that may lack them, except where they came from. */
  private push(entries: Entry[], from?: string): void {
    for (const peerId of this.linked) {
      if (peerId === from) continue;
      const known = this.peerHeads.get(peerId);
      const theirLinks = this.peerLinks.get(peerId);
      // Not what it has, nor what it gets from the author itself (this console's own go to all).
      const missing = entries.filter((e) => (known?.get(e.author) ?? 0) < e.seq && (from === undefined || !theirLinks?.has(e.author)));
      for (const e of missing) this.noteSent(peerId, e.author, e.seq);
      for (const batch of packEntries(missing)) this.sendTo(peerId, { t: 'ws-entries', project: this.log.project, entries: batch });
    }
  }

  private noteSent(peerId: string, author: string, seq: number): void {
    const known = this.peerHeads.get(peerId);
    if (known && (known.get(author) ?? 0) < seq) known.set(author, seq);
  }

  /** Resolves false if the link is gone; the next hello on a new link makes up for it (for a ws-have too). */
  private sendTo(peerId: string, message: SyncMessage): Promise<boolean> {
    return this.channel.send(peerId, message).then(
      () => true,
      () => false,
    );
  }
}

function linksKey(links: string[]): string {
  return [...links].sort().join(' ');
}
