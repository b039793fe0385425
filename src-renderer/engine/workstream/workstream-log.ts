/**
 * A project's workstream log at one console: verified entries in the one total order every
 * console shows, each author's contiguous high-water mark, and the entries waiting for a gap to
 * be filled. Entries enter only through `ingest` (from peers) and `append` (this console's own),
 * both serialized, both persisted before they count: what the log holds, the store holds.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, toBase64Url } from '../../../src-shared/bytes';
import { checkEntry, compareEntries, encodeEntryBody, entryId, MAX_ENTRY_AHEAD_MS, parseEntryBody, type Entry, type EntryProblem, type SignedEntry } from '../../../src-shared/workstream/entry';
import { Emitter } from '../emitter';
import type { WorkstreamStore } from './workstream-store';

export type RejectionCode = EntryProblem | 'EQUIVOCATION' | 'ENTRY_AHEAD';
export interface Rejection {
  code: RejectionCode;
  message: string;
  /** The console it came from (absent for this console's own). */
  from?: string;
  /** The author, when the entry could be parsed. */
  author?: string;
  /** For an equivocation: both versions, passed on so that every console sees the conflict. */
  evidence?: SignedEntry[];
}

/** A run of an author's sequence numbers this console lacks. */
export interface Gap {
  author: string;
  from: number;
  to: number;
}

interface Events extends Record<string, unknown> {
  added: { entries: Entry[]; from?: string };
  rejected: Rejection;
}

interface Delivery {
  items: readonly unknown[];
  from?: string;
  resolve(result: { added: Entry[]; gaps: Gap[] }): void;
  reject(error: Error): void;
}

/** Entries held back for a gap before it, at most (the rest are fetched again later). */
const MAX_PENDING = 20_000;

export class WorkstreamLog extends Emitter<Events> {
  private readonly byId = new Map<string, Entry>();
  private readonly ordered: Entry[] = [];
  private readonly heads = new Map<string, number>();
  private readonly pending = new Map<string, Entry>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Authors caught signing two different entries with one sequence number. */
  readonly equivocators = new Set<string>();
  private readonly inbox: Delivery[] = [];
  /** Each entry's sort time (see compareEntries). */
  private readonly orderTs = new Map<string, number>();
  /** Per author, the chain digest at each sequence number (see chainDigest). */
  private readonly chains = new Map<string, Uint8Array[]>();
  private signing: Promise<unknown> = Promise.resolve();
  /** The last number this console gave one of its own entries (it may not be stored yet). */
  private lastOwnSeq = 0;
  /** Which console an entry not yet stored came from (undefined: this console). */
  private readonly source = new Map<string, string | undefined>();
  /** Conflicting versions already reported (entry id + signature), so each is reported once. */
  private readonly conflictsSeen = new Set<string>();
  /** Entries refused for a time ahead of this console's clock, already reported (id + signature). */
  private readonly aheadSeen = new Set<string>();

  constructor(
    readonly project: string,
    private readonly store: WorkstreamStore,
  ) {
    super();
  }

  /** Loads what the store holds (entries were verified before they were stored). */
  async load(): Promise<void> {
    const rows = await this.store.loadEntries();
    const entries: Entry[] = [];
    for (const signed of rows) {
      const parsed = parseEntryBody(signed.b);
      if (parsed.ok && parsed.entry.project === this.project) entries.push({ ...parsed.entry, signed });
    }
    entries.sort((x, y) => (x.author < y.author ? -1 : x.author > y.author ? 1 : x.seq - y.seq));
    for (const e of entries) {
      const head = this.heads.get(e.author) ?? 0;
      if (e.seq === head + 1) this.insert(e);
      else this.pending.set(e.id, e); // cannot happen with all-or-nothing writes; kept safe anyway
    }
  }

  /** Every entry, in the project's total order. Do not modify. */
  entries(): readonly Entry[] {
    return this.ordered;
  }

  get(id: string): Entry | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.ordered.length;
  }

  /** Per author, the highest sequence number held with none missing before it. */
  highWaterMarks(): Record<string, number> {
    return Object.fromEntries(this.heads);
  }

  /** The signed entries `from..to` of an author that this console holds, in order. */
  range(author: string, from: number, to: number): SignedEntry[] {
    const out: SignedEntry[] = [];
    const last = Math.min(to, this.heads.get(author) ?? 0);
    for (let seq = Math.max(1, from); seq <= last; seq++) out.push(this.byId.get(entryId(author, seq))!.signed);
    return out;
  }

  /** The runs of sequence numbers this console lacks before entries it holds back. */
  gaps(): Gap[] {
    const lowestPending = new Map<string, number>();
    for (const e of this.pending.values()) lowestPending.set(e.author, Math.min(e.seq, lowestPending.get(e.author) ?? Infinity));
    return [...lowestPending].map(([author, seq]) => ({ author, from: (this.heads.get(author) ?? 0) + 1, to: seq - 1 }));
  }

  /**
   * Appends an entry of this console's own; `sign` is the host signing with the identity key.
   * Numbers are given and signatures made one at a time, in order; storing goes through the same
   * group commit as entries from peers, and nobody sees the entry before it is stored (so after a
   * crash this console never reuses a number it published).
   */
  append(
    author: { peerId: string; signingPublicKey: Uint8Array },
    kind: string,
    body: unknown,
    sign: (b: Uint8Array) => Promise<Uint8Array>,
    ref: string | null = null,
  ): Promise<Entry> {
    const signed = this.signing.then(async () => {
      const seq = Math.max(this.lastOwnSeq, this.heads.get(author.peerId) ?? 0) + 1;
      const b = encodeEntryBody({ project: this.project, authorKey: author.signingPublicKey, seq, ts: Date.now(), kind, ref, body });
      const checked = await checkEntry({ b, s: await sign(b) }, this.project);
      if (!checked.ok) throw new Error(checked.message);
      this.lastOwnSeq = seq;
      return checked.entry;
    });
    this.signing = signed.catch(() => undefined);
    return signed.then(async (entry) => {
      await this.ingest([entry.signed]);
      return this.byId.get(entry.id) ?? entry;
    });
  }

  /**
   * Entries from a peer: verified, de-duplicated, held back behind a gap, stored all at once,
   * then announced ('added'). Bad ones are reported ('rejected') and never stored. Resolves with
   * what was added and the gaps still open, which the caller fetches.
   *
   * Group commit: deliveries that arrive while a write is under way are checked and stored
   * together in the next transaction, so a busy console writes less often, not later.
   */
  ingest(items: readonly unknown[], from?: string): Promise<{ added: Entry[]; gaps: Gap[] }> {
    return new Promise((resolve, reject) => {
      this.inbox.push({ items, ...(from ? { from } : {}), resolve, reject });
      if (this.inbox.length === 1) void this.serialize(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    const deliveries = this.inbox.splice(0);
    try {
      const added = await this.take(deliveries);
      const gaps = this.gaps();
      for (const d of deliveries) d.resolve({ added: added.filter((e) => this.source.get(e.id) === d.from), gaps });
    } catch (error) {
      for (const d of deliveries) d.reject(error as Error);
    } finally {
      for (const id of [...this.source.keys()]) if (this.byId.has(id)) this.source.delete(id);
    }
  }

  private async take(deliveries: Delivery[]): Promise<Entry[]> {
    const fresh: Array<Promise<{ check: Awaited<ReturnType<typeof checkEntry>>; from: string | undefined }>> = [];
    for (const { items, from } of deliveries) {
      for (const item of items) {
        // Duplicates are common (gossip); recognise them before paying for a signature check.
        const parsed = isSignedShape(item) ? parseEntryBody(item.b) : undefined;
        const known = parsed?.ok ? (this.byId.get(parsed.entry.id) ?? this.pending.get(parsed.entry.id)) : undefined;
        if (known && equalBytes(known.signed.b, (item as SignedEntry).b) && equalBytes(known.signed.s, (item as SignedEntry).s)) continue;
        fresh.push(checkEntry(item, this.project).then((check) => ({ check, from })));
      }
    }
    const candidates = new Map<string, Entry>();
    for (const { check: c, from } of await Promise.all(fresh)) {
      if (!c.ok) {
        this.reject({ code: c.code, message: c.message, ...(from ? { from } : {}) });
        continue;
      }
      const e = c.entry;
      const existing = this.byId.get(e.id) ?? this.pending.get(e.id) ?? candidates.get(e.id);
      if (existing) {
        const conflict = `${e.id}:${toBase64Url(e.signed.s)}`;
        if (!equalBytes(existing.signed.b, e.signed.b) && !this.conflictsSeen.has(conflict)) {
          this.conflictsSeen.add(conflict);
          this.equivocators.add(e.author);
          this.reject({
            code: 'EQUIVOCATION',
            message: `${e.author.slice(0, 6)} signed two different entries as number ${e.seq}: the one seen second is refused`,
            author: e.author,
            evidence: [existing.signed, e.signed],
            ...(from ? { from } : {}),
          });
        }
        continue; // the same entry with another (valid) signature adds nothing
      }
      candidates.set(e.id, e);
      this.source.set(e.id, from);
    }
    // Take what is contiguous with each author's high-water mark; hold back the rest.
    for (const e of candidates.values()) if (this.pending.size < MAX_PENDING) this.pending.set(e.id, e);
    const accepted: Entry[] = [];
    const authors = new Set([...this.pending.values()].map((e) => e.author));
    const now = Date.now();
    for (const author of authors) {
      let head = this.heads.get(author) ?? 0;
      for (let e = this.pending.get(entryId(author, head + 1)); e; e = this.pending.get(entryId(author, head + 1))) {
        if (e.ts - now > MAX_ENTRY_AHEAD_MS) {
          this.refuseAhead(e, now);
          break;
        }
        accepted.push(e);
        head++;
      }
    }
    if (!accepted.length) return [];
    await this.store.appendEntries(accepted.map((e) => ({ author: e.author, seq: e.seq, ...e.signed })));
    const bySource = new Map<string | undefined, Entry[]>();
    for (const e of accepted) {
      this.pending.delete(e.id);
      this.insert(e);
      const from = this.source.get(e.id);
      bySource.set(from, [...(bySource.get(from) ?? []), e]);
    }
    for (const [from, entries] of bySource) this.emit('added', { entries, ...(from ? { from } : {}) });
    return accepted;
  }

  /**
   * A digest of an author's entries 1..seq as this console holds them (SHA-256 chain over the
   * signed bytes, 16 bytes). Two consoles whose digests differ at one number hold different
   * versions somewhere up to it: the sign of an author telling different consoles different things.
   */
  chainDigest(author: string, seq: number): Uint8Array | undefined {
    return this.chains.get(author)?.[seq - 1];
  }

  private insert(e: Entry): void {
    this.byId.set(e.id, e);
    this.heads.set(e.author, e.seq);
    const chain = this.chains.get(e.author) ?? [];
    this.chains.set(e.author, chain);
    chain.push(sha256(concatBytes(chain.at(-1) ?? new Uint8Array(0), e.signed.b)).subarray(0, 16));
    const key = { orderTs: Math.max(e.ts, this.orderTs.get(entryId(e.author, e.seq - 1)) ?? 0), author: e.author, seq: e.seq };
    this.orderTs.set(e.id, key.orderTs);
    // Entries mostly arrive in order: search from the end.
    let i = this.ordered.length;
    while (i > 0) {
      const before = this.ordered[i - 1]!;
      if (compareEntries({ orderTs: this.orderTs.get(before.id)!, author: before.author, seq: before.seq }, key) <= 0) break;
      i--;
    }
    this.ordered.splice(i, 0, e);
  }

  private reject(rejection: Rejection): void {
    this.emit('rejected', rejection);
  }

  /**
   * An entry dated further ahead of this console's clock than two consoles' clocks can differ.
   * Logs are contiguous per author, so the author's chain stops here: this entry and the ones after
   * it are dropped, not held back (held, they would be a gap asked for again at once, forever). The
   * others send them again with every hello; once this console's clock has got within reach of the
   * entry's time it is taken, and the rest with it. An entry dated beyond any clock stops its author
   * for good, which is what a misbehaving author gets. Reported once per entry.
   */
  private refuseAhead(e: Entry, now: number): void {
    const from = this.source.get(e.id);
    for (const [id, held] of this.pending) {
      if (held.author !== e.author || held.seq < e.seq) continue;
      this.pending.delete(id);
      this.source.delete(id);
    }
    const key = `${e.id}:${toBase64Url(e.signed.s)}`;
    if (this.aheadSeen.has(key)) return;
    if (this.aheadSeen.size >= 10_000) this.aheadSeen.clear();
    this.aheadSeen.add(key);
    this.reject({
      code: 'ENTRY_AHEAD',
      message: `${e.author.slice(0, 6)}'s entry ${e.seq} is dated ${new Date(e.ts).toISOString()}, ${aheadBy(e.ts - now)} ahead of this console's clock: it and that author's later entries are not taken until then`,
      author: e.author,
      ...(from ? { from } : {}),
    });
  }

  private serialize<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function isSignedShape(item: unknown): item is SignedEntry {
  return typeof item === 'object' && item !== null && (item as SignedEntry).b instanceof Uint8Array && (item as SignedEntry).s instanceof Uint8Array;
}

/** "3 h", "12 days", "274 000 years": how far ahead an entry is dated, for the report. */
function aheadBy(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes < 120) return `${Math.round(minutes)} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  const days = minutes / (24 * 60);
  return days < 730 ? `${Math.round(days)} days` : `${Math.round(days / 365.25).toLocaleString('en')} years`;
}
