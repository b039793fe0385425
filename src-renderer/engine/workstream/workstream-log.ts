/**
 * A project's workstream log at one console: verified entries in the one total order every
 * console shows, each author's contiguous high-water mark, and the entries waiting for a gap to
 * be filled. Entries enter only through `ingest` (from peers) and `append` (this console's own),
 * both serialized, both persisted before they count: what the log holds, the store holds.
 */
import { equalBytes, toBase64Url } from '../../../src-shared/bytes';
import { checkEntry, compareEntries, encodeEntryBody, entryId, parseEntryBody, type Entry, type EntryProblem, type SignedEntry } from '../../../src-shared/workstream/entry';
import { Emitter } from '../emitter';
import type { WorkstreamStore } from './workstream-store';

export type RejectionCode = EntryProblem | 'EQUIVOCATION';
export interface Rejection {
  code: RejectionCode;
  message: string;
  /** The console it came from (absent for this console's own). */
  from?: string;
  /** The author, when the entry could be parsed. */
  author?: string;
  /** For an equivocation: the refused entry, passed on so every console sees the conflict. */
  evidence?: SignedEntry;
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
  /** Conflicting versions already reported (entry id + signature), so each is reported once. */
  private readonly conflictsSeen = new Set<string>();

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

  /** Appends an entry of this console's own; `sign` is the host signing with the identity key. */
  append(
    author: { peerId: string; signingPublicKey: Uint8Array },
    kind: string,
    body: unknown,
    sign: (b: Uint8Array) => Promise<Uint8Array>,
    ref: string | null = null,
  ): Promise<Entry> {
    return this.serialize(async () => {
      const seq = (this.heads.get(author.peerId) ?? 0) + 1;
      const b = encodeEntryBody({ project: this.project, authorKey: author.signingPublicKey, seq, ts: Date.now(), kind, ref, body });
      const s = await sign(b);
      const checked = await checkEntry({ b, s }, this.project);
      if (!checked.ok) throw new Error(checked.message);
      // Stored before anyone sees it: after a crash this console never reuses the number.
      await this.store.appendEntries([{ author: author.peerId, seq, b, s }]);
      this.insert(checked.entry);
      this.emit('added', { entries: [checked.entry] });
      return checked.entry;
    });
  }

  /**
   * Entries from a peer: verified, de-duplicated, held back behind a gap, stored all at once,
   * then announced ('added'). Bad ones are reported ('rejected') and never stored. Resolves with
   * what was added and the gaps still open, which the caller fetches.
   */
  ingest(items: readonly unknown[], from?: string): Promise<{ added: Entry[]; gaps: Gap[] }> {
    return this.serialize(async () => {
      const fresh: Array<Promise<ReturnType<typeof checkEntry> extends Promise<infer R> ? R : never>> = [];
      for (const item of items) {
        // Duplicates are common (gossip); recognise them before paying for a signature check.
        const parsed = isSignedShape(item) ? parseEntryBody(item.b) : undefined;
        const known = parsed?.ok ? (this.byId.get(parsed.entry.id) ?? this.pending.get(parsed.entry.id)) : undefined;
        if (known && equalBytes(known.signed.b, (item as SignedEntry).b) && equalBytes(known.signed.s, (item as SignedEntry).s)) continue;
        fresh.push(checkEntry(item, this.project));
      }
      const checked = await Promise.all(fresh);
      const candidates: Entry[] = [];
      for (const c of checked) {
        if (!c.ok) {
          this.reject({ code: c.code, message: c.message, ...(from ? { from } : {}) });
          continue;
        }
        const e = c.entry;
        const existing = this.byId.get(e.id) ?? this.pending.get(e.id) ?? candidates.find((x) => x.id === e.id);
        if (existing) {
          const conflict = `${e.id}:${toBase64Url(e.signed.s)}`;
          if (!equalBytes(existing.signed.b, e.signed.b) && !this.conflictsSeen.has(conflict)) {
            this.conflictsSeen.add(conflict);
            this.equivocators.add(e.author);
            this.reject({
              code: 'EQUIVOCATION',
              message: `${e.author.slice(0, 6)} signed two different entries as number ${e.seq}: the one seen second is refused`,
              author: e.author,
              evidence: e.signed,
              ...(from ? { from } : {}),
            });
          }
          continue; // the same entry with another (valid) signature adds nothing
        }
        candidates.push(e);
      }
      // Take what is contiguous with each author's high-water mark; hold back the rest.
      for (const e of candidates) if (this.pending.size < MAX_PENDING) this.pending.set(e.id, e);
      const accepted: Entry[] = [];
      const nextHeads = new Map(this.heads);
      const authors = new Set([...this.pending.values()].map((e) => e.author));
      for (const author of authors) {
        let head = nextHeads.get(author) ?? 0;
        for (let e = this.pending.get(entryId(author, head + 1)); e; e = this.pending.get(entryId(author, head + 1))) {
          accepted.push(e);
          head++;
        }
        nextHeads.set(author, head);
      }
      if (accepted.length) {
        await this.store.appendEntries(accepted.map((e) => ({ author: e.author, seq: e.seq, ...e.signed })));
        for (const e of accepted) {
          this.pending.delete(e.id);
          this.insert(e);
        }
        this.emit('added', { entries: accepted, ...(from ? { from } : {}) });
      }
      return { added: accepted, gaps: this.gaps() };
    });
  }

  private insert(e: Entry): void {
    this.byId.set(e.id, e);
    this.heads.set(e.author, e.seq);
    // Entries mostly arrive in order: search from the end.
    let i = this.ordered.length;
    while (i > 0 && compareEntries(this.ordered[i - 1]!, e) > 0) i--;
    this.ordered.splice(i, 0, e);
  }

  private reject(rejection: Rejection): void {
    this.emit('rejected', rejection);
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
