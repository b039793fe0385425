/**
 * A project's workstream log at one console: verified entries in the one total order every
 * console shows, each author's contiguous high-water mark, and the entries waiting for a gap to
 * be filled. Entries enter only through `ingest` (from peers) and `append` (this console's own),
 * both serialized, both persisted before they count: what the log holds, the store holds.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, toBase64Url } from '../../../src-shared/bytes';
import { compareEntries, encodeEntry, entryId, MAX_ENTRY_AHEAD_MS, parseEntryBody, verifyEntrySignature, type Entry, type EntryProblem, type SignedEntry } from '../../../src-shared/workstream/entry';
import { entryHash, linksTo, MAX_RUN_BYTES, MAX_RUN_ENTRIES, verifyRuns } from '../../../src-shared/workstream/chain';
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
  /**
   * For an equivocation: both versions, each as a message that verifies on its own (the entry and
   * its author's entries up to a signature), passed on so that every console sees the conflict.
   */
  evidence?: SignedEntry[][];
}

/** What taking one delivery did: entries added (from it), gaps still open, the authors it held entries of. */
export interface Ingested {
  added: Entry[];
  gaps: Gap[];
  authors: string[];
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
  /** The authors of the entries in `items` that parsed (filled in when checked). */
  authors?: string[];
  /** This console's own entries, made and signed here (nothing to verify). */
  own?: Entry[];
  from?: string;
  resolve(result: Ingested): void;
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
  /** Own entries waiting for the batch being signed to be stored (see append). */
  private readonly outbox: OwnDraft[] = [];
  private flushing = false;
  /** Which console an entry not yet stored came from (undefined: this console). */
  private readonly source = new Map<string, string | undefined>();
  /** Conflicting versions already reported (entry id + body hash), so each is reported once. */
  private readonly conflictsSeen = new Set<string>();
  /** Entries refused for a time ahead of this console's clock, already reported (id + body hash). */
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
    const byId = new Map<string, Entry>();
    for (const signed of rows) {
      const parsed = parseEntryBody(signed.b);
      if (!parsed.ok || parsed.entry.project !== this.project) continue;
      // A store that appends (the agent's) may hold an entry twice: later with the signature it gained.
      const earlier = byId.get(parsed.entry.id);
      if (!earlier || (!earlier.signed.s && signed.s)) byId.set(parsed.entry.id, { ...parsed.entry, signed });
    }
    const entries = [...byId.values()].sort((x, y) => (x.author < y.author ? -1 : x.author > y.author ? 1 : x.seq - y.seq));
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

  /**
   * The entries `from..to` of an author that this console holds, in order, and on to the next one
   * that carries a signature (the author's last entry held always does), so that they verify.
   */
  range(author: string, from: number, to: number): Entry[] {
    const out: Entry[] = [];
    const head = this.heads.get(author) ?? 0;
    for (let seq = Math.max(1, from); seq <= head; seq++) {
      const e = this.byId.get(entryId(author, seq))!;
      out.push(e);
      if (seq >= to && e.signed.s) break;
    }
    return out;
  }

  /**
   * The runs of sequence numbers this console lacks before entries it holds back. Not for an
   * author caught equivocating: their log stops at the fork here (see take), and asking again
   * would only bring back the other history.
   */
  gaps(): Gap[] {
    const lowestPending = new Map<string, number>();
    for (const e of this.pending.values()) lowestPending.set(e.author, Math.min(e.seq, lowestPending.get(e.author) ?? Infinity));
    return [...lowestPending].filter(([author]) => !this.equivocators.has(author)).map(([author, seq]) => ({ author, from: (this.heads.get(author) ?? 0) + 1, to: seq - 1 }));
  }

  /**
   * Appends an entry of this console's own; `sign` is the host signing with the identity key.
   * Entries posted while a batch is being signed and stored form the next batch: numbered in
   * order, each linked to the one before, and one signature, on the last, covers them all (a lone
   * post is a batch of one). Nobody sees an entry before it is stored, so after a crash this
   * console never reuses a number it published.
   */
  append(
    author: { peerId: string; signingPublicKey: Uint8Array },
    kind: string,
    body: unknown,
    sign: (b: Uint8Array) => Promise<Uint8Array>,
    ref: string | null = null,
  ): Promise<Entry> {
    return new Promise((resolve, reject) => {
      this.outbox.push({ author, kind, body, ref, sign, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      queueMicrotask(() => void this.flush()); // posts made together (in one task) share the first batch
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.outbox.length) await this.appendBatch(this.outbox.splice(0, MAX_RUN_ENTRIES));
    } finally {
      this.flushing = false;
    }
  }

  private async appendBatch(drafts: OwnDraft[]): Promise<void> {
    const { author, sign } = drafts[0]!;
    let seq = this.heads.get(author.peerId) ?? 0;
    let previous = seq ? this.byId.get(entryId(author.peerId, seq))!.signed.b : undefined;
    const made: Array<{ draft: OwnDraft; entry: Entry }> = [];
    let bytes = 0;
    for (const [i, draft] of drafts.entries()) {
      if (draft.author.peerId !== author.peerId || bytes >= MAX_RUN_BYTES - 64 * 1024) {
        this.outbox.unshift(...drafts.slice(i)); // the next batch
        break;
      }
      try {
        const prev = previous ? entryHash(previous) : null;
        const entry = encodeEntry({ project: this.project, authorKey: author.signingPublicKey, seq: seq + 1, ts: Date.now(), kind: draft.kind, ref: draft.ref, body: draft.body, prev });
        made.push({ draft, entry });
        bytes += entry.signed.b.length;
        seq++;
        previous = entry.signed.b;
      } catch (error) {
        draft.reject(error as Error); // a bad body takes no number
      }
    }
    if (!made.length) return;
    try {
      const last = made.at(-1)!.entry;
      last.signed = { b: last.signed.b, s: await sign(last.signed.b) };
      // Never publish what would be refused: the one signature is checked here too.
      if (!(await verifyEntrySignature(last))) throw new Error("the host's signature on the entry does not verify");
      await this.deliver({ items: [], own: made.map(({ entry }) => entry) });
      for (const { draft, entry } of made) draft.resolve(this.byId.get(entry.id) ?? entry);
    } catch (error) {
      for (const { draft } of made) draft.reject(error as Error);
    }
  }

  /**
   * Entries from a peer: verified, de-duplicated, held back behind a gap, stored all at once,
   * then announced ('added'). Bad ones are reported ('rejected') and never stored. Resolves with
   * what was added and the gaps still open, which the caller fetches. One `ingest` is one message:
   * its entries verify on their own (see chain.ts).
   *
   * Group commit: deliveries that arrive while a write is under way are checked and stored
   * together in the next transaction, so a busy console writes less often, not later.
   */
  ingest(items: readonly unknown[], from?: string): Promise<Ingested> {
    return this.deliver({ items, ...(from ? { from } : {}) });
  }

  private deliver(delivery: Omit<Delivery, 'resolve' | 'reject'>): Promise<Ingested> {
    return new Promise((resolve, reject) => {
      this.inbox.push({ ...delivery, resolve, reject });
      if (this.inbox.length === 1) void this.serialize(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    const deliveries = this.inbox.splice(0);
    try {
      const added = await this.take(deliveries);
      const gaps = this.gaps();
      for (const d of deliveries) d.resolve({ added: added.filter((e) => this.source.get(e.id) === d.from), gaps, authors: d.authors ?? [] });
    } catch (error) {
      for (const d of deliveries) d.reject(error as Error);
    } finally {
      for (const id of [...this.source.keys()]) if (this.byId.has(id)) this.source.delete(id);
    }
  }

  private async take(deliveries: Delivery[]): Promise<Entry[]> {
    const held = (e: { id: string; signed: SignedEntry }) => {
      const known = this.byId.get(e.id);
      return known !== undefined && equalBytes(known.signed.b, e.signed.b);
    };
    const checked = await Promise.all(
      deliveries.map(async (d) => {
        if (d.own) return { runs: [d.own], problems: [], from: d.from };
        const verified = await verifyRuns(d.items, this.project, held);
        d.authors = verified.authors;
        return { ...verified, from: d.from };
      }),
    );
    const candidates = new Map<string, Entry>();
    /** Held entries that gained the signature of a run they end: stored again with it. */
    const signedNow: Entry[] = [];
    const lookup = (id: string) => this.byId.get(id) ?? this.pending.get(id) ?? candidates.get(id);
    for (const { runs, problems, from } of checked) {
      for (const p of problems) this.reject({ ...p, ...(from ? { from } : {}) });
      for (const run of runs) this.takeRun(run, from, candidates, signedNow, lookup);
    }
    // Take what is contiguous with each author's high-water mark; hold back the rest.
    for (const e of candidates.values()) this.pending.set(e.id, e);
    const accepted: Entry[] = [];
    const authors = new Set([...this.pending.values()].map((e) => e.author));
    const now = Date.now();
    for (const author of authors) {
      let head = this.heads.get(author) ?? 0;
      let previous = head ? this.byId.get(entryId(author, head)) : undefined;
      for (let e = this.pending.get(entryId(author, head + 1)); e; e = this.pending.get(entryId(author, head + 1))) {
        if (e.ts - now > MAX_ENTRY_AHEAD_MS) {
          this.refuseAhead(e, now);
          break;
        }
        if (previous && e.version === 2 && !linksTo(e, previous)) {
          this.refuseFork(previous, e, lookup);
          break;
        }
        accepted.push(e);
        previous = e;
        head++;
      }
    }
    const toStore = [...accepted, ...signedNow.filter((e) => this.byId.has(e.id))];
    if (!toStore.length) return [];
    await this.store.appendEntries(toStore.map((e) => ({ author: e.author, seq: e.seq, ...e.signed })));
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
   * One verified run: its new entries become candidates, all or none. Where it holds another
   * version of an entry this console has, its author signed two histories: the one seen first is
   * kept, the run is refused (its entries after the fork continue the other one, and the entries
   * before it, new here, would have no signature to travel with), and the conflict reported.
   */
  private takeRun(run: Entry[], from: string | undefined, candidates: Map<string, Entry>, signedNow: Entry[], lookup: (id: string) => Entry | undefined): void {
    const fresh: Entry[] = [];
    for (const [i, e] of run.entries()) {
      const existing = lookup(e.id);
      if (!existing) {
        fresh.push(e);
        continue;
      }
      if (equalBytes(existing.signed.b, e.signed.b)) {
        // Its run ended here with a checked signature: keep it, so this entry can cover those before it.
        if (e.signed.s && !existing.signed.s) {
          existing.signed = { ...existing.signed, s: e.signed.s };
          signedNow.push(existing);
        }
        continue;
      }
      this.reportFork(existing, run.slice(i), from, lookup);
      return;
    }
    if (this.pending.size + candidates.size + fresh.length > MAX_PENDING) return; // fetched again later
    for (const e of fresh) {
      candidates.set(e.id, e);
      this.source.set(e.id, from);
    }
  }

  /** A held entry and a run whose first entry does not continue it: two histories after `held`. */
  private refuseFork(held: Entry, next: Entry, lookup: (id: string) => Entry | undefined): void {
    const other: Entry[] = [];
    for (let e: Entry | undefined = next; e && (other.length === 0 || linksTo(e, other.at(-1)!)); e = this.pending.get(entryId(next.author, e.seq + 1))) {
      other.push(e);
      if (e.signed.s) break;
    }
    const from = this.source.get(next.id);
    for (const [id, e] of this.pending) {
      if (e.author === next.author && e.seq >= next.seq) {
        this.pending.delete(id);
        this.source.delete(id);
      }
    }
    this.reportFork(held, other, from, lookup, `${next.author.slice(0, 6)} signed two different entries as number ${held.seq} (entry ${next.seq} continues another one)`);
  }

  private reportFork(existing: Entry, other: Entry[], from: string | undefined, lookup: (id: string) => Entry | undefined, message?: string): void {
    const first = other[0]!;
    const conflict = `${first.id}:${toBase64Url(entryHash(first.signed.b).subarray(0, 16))}`;
    this.equivocators.add(first.author);
    if (this.conflictsSeen.has(conflict)) return;
    this.conflictsSeen.add(conflict);
    const mine = coveredFrom(existing, lookup);
    const theirs = other.at(-1)?.signed.s ? other : undefined;
    this.reject({
      code: 'EQUIVOCATION',
      message: message ?? `${first.author.slice(0, 6)} signed two different entries as number ${first.seq}: the one seen second is refused`,
      author: first.author,
      ...(mine && theirs ? { evidence: [mine, theirs].map((run) => run.map((e, i) => (i === run.length - 1 ? e.signed : { b: e.signed.b }))) } : {}),
      ...(from ? { from } : {}),
    });
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
    const key = `${e.id}:${toBase64Url(entryHash(e.signed.b).subarray(0, 16))}`;
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

interface OwnDraft {
  author: { peerId: string; signingPublicKey: Uint8Array };
  kind: string;
  body: unknown;
  ref: string | null;
  sign: (b: Uint8Array) => Promise<Uint8Array>;
  resolve(entry: Entry): void;
  reject(error: Error): void;
}

/** An entry and its author's entries after it, up to one that carries a signature (undefined if none is held). */
function coveredFrom(start: Entry, lookup: (id: string) => Entry | undefined): Entry[] | undefined {
  const run = [start];
  while (!run.at(-1)!.signed.s) {
    const last = run.at(-1)!;
    const next = lookup(entryId(last.author, last.seq + 1));
    if (!next || !linksTo(next, last)) return undefined;
    run.push(next);
  }
  return run;
}

/** "3 h", "12 days", "274 000 years": how far ahead an entry is dated, for the report. */
function aheadBy(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes < 120) return `${Math.round(minutes)} min`;
  if (minutes < 48 * 60) return `${Math.round(minutes / 60)} h`;
  const days = minutes / (24 * 60);
  return days < 730 ? `${Math.round(days)} days` : `${Math.round(days / 365.25).toLocaleString('en')} years`;
}
