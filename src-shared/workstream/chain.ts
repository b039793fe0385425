/**
 * Runs of linked entries: how a batch, a push or a catch-up costs one signature check.
 *
 * A version 2 entry carries `prev`, the SHA-256 of its author's previous entry's body bytes, so
 * the author's signature on entry n covers every entry before it. An author signs the last entry
 * of each batch it writes; a console sends entries in messages that verify on their own — each
 * author's entries in a message end with one that carries a signature (its *cover*), and only
 * that one needs one. A receiver splits a message into runs of linked entries and checks one
 * signature per run, where Hypercore signs a Merkle root per append: a log that every console
 * replicates whole, in order, needs no random-access proofs, and a hash chain is the simplest
 * structure that makes one signature cover a range. Nothing unverified is held beyond the
 * message it came in.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from '../bytes';
import { keepCompact, parseSignedEntry, verifyEntrySignature, type Entry, type EntryProblem, type ParsedEntry, type SignedEntry } from './entry';

/** Entries per `ws-entries` message and per batch an author signs, and a byte cap on their bodies. */
export const MAX_RUN_ENTRIES = 256;
export const MAX_RUN_BYTES = 1024 * 1024;

/** Hashes of entry bodies already computed: a run's links are checked where it arrives and where it joins the log. */
const hashes = new WeakMap<Uint8Array, Uint8Array>();

/** What `prev` of the entry after this one holds. */
export function entryHash(b: Uint8Array): Uint8Array {
  let hash = hashes.get(b);
  if (!hash) hashes.set(b, (hash = sha256(b)));
  return hash;
}

/** Whether `next` continues `previous` (its author's entry just before it). */
export function linksTo(next: Pick<Entry, 'version' | 'prev' | 'seq' | 'author'>, previous: Pick<Entry, 'seq' | 'author' | 'signed'>): boolean {
  return next.version === 2 && next.prev !== null && next.author === previous.author && next.seq === previous.seq + 1 && equalBytes(next.prev, entryHash(previous.signed.b));
}

export interface RunProblem {
  code: EntryProblem;
  message: string;
  author?: string;
}

/**
 * The entries of one message, verified: runs of one author's consecutive, linked entries, each
 * ending with the entry whose signature was checked (the only one that keeps a signature; the
 * others are covered by it). Entries after the last signature of their run, and runs whose
 * signature is not their author's, are refused. `authors`: of every entry that parsed. `held` says whether this console already holds
 * an entry with exactly these bytes in its log: a run whose cover is held adds nothing (the cover's
 * bytes fix every entry before it) and costs no signature check.
 */
export async function verifyRuns(items: readonly unknown[], project: string, held: (entry: ParsedEntry) => boolean): Promise<{ runs: Entry[][]; problems: RunProblem[]; authors: string[] }> {
  const problems: RunProblem[] = [];
  const byAuthor = new Map<string, ParsedEntry[]>();
  for (const item of items) {
    const parsed = parseSignedEntry(item, project);
    if (!parsed.ok) {
      problems.push({ code: parsed.code, message: parsed.message });
      continue;
    }
    // Copied out of the message now, so that the hashes computed below stay with the kept bytes.
    const entry = keepCompact(parsed.entry);
    const list = byAuthor.get(entry.author) ?? [];
    byAuthor.set(entry.author, list);
    list.push(entry);
  }
  const checks: Array<Promise<Entry[] | undefined>> = [];
  for (const [author, list] of byAuthor) {
    for (const run of splitRuns(list.sort((x, y) => x.seq - y.seq))) {
      const coverAt = run.findLastIndex((e) => e.signed.s !== undefined);
      if (coverAt < run.length - 1) {
        const first = run[coverAt + 1]!.seq;
        const last = run.at(-1)!.seq;
        problems.push({ code: 'MALFORMED_ENTRY', author, message: `${author.slice(0, 6)}'s ${first === last ? `entry ${first}` : `entries ${first}–${last}`}: no signature in the message covers ${first === last ? 'it' : 'them'}` });
      }
      if (coverAt < 0) continue;
      const cover = run[coverAt]!;
      if (held(cover)) continue;
      const covered = run.slice(0, coverAt + 1);
      checks.push(
        verifyEntrySignature(cover).then((ok) => {
          if (ok) return covered.map((e) => keepCompact(e, e === cover));
          const what = covered.length === 1 ? `entry ${cover.seq}` : `entries ${covered[0]!.seq}–${cover.seq}`;
          problems.push({ code: 'ENTRY_FORGED', author, message: `${what} of ${author.slice(0, 6)}: the signature is not its author's` });
          return undefined;
        }),
      );
    }
  }
  const runs = (await Promise.all(checks)).filter((run): run is Entry[] => run !== undefined);
  return { runs, problems, authors: [...byAuthor.keys()] };
}

/** One author's entries, sorted by number, cut where one does not link to the one before. */
function splitRuns(sorted: ParsedEntry[]): ParsedEntry[][] {
  const runs: ParsedEntry[][] = [];
  let run: ParsedEntry[] = [];
  for (const e of sorted) {
    const last = run.at(-1);
    if (last && last.seq === e.seq) continue; // one version per number in a message: the first
    if (last && linksTo(e, last)) run.push(e);
    else {
      if (run.length) runs.push(run);
      run = [e];
    }
  }
  if (run.length) runs.push(run);
  return runs;
}

/**
 * Entries from a log (each author's in order, consecutive) cut into `ws-entries` messages that
 * verify on their own: a message ends each author's part on an entry that carries a signature,
 * and an entry followed in the same message by the next one of its author goes without its own.
 * Entries after the last signature are left out (a log holds none: every run it takes ends on one).
 */
export function packEntries(entries: readonly Entry[]): SignedEntry[][] {
  const segments: Entry[][] = [];
  let segment: Entry[] = [];
  for (const e of entries) {
    const last = segment.at(-1);
    if (last && (last.author !== e.author || last.seq + 1 !== e.seq)) segment = [];
    segment.push(e);
    if (e.signed.s) {
      segments.push(segment);
      segment = [];
    }
  }
  const messages: Entry[][] = [];
  let message: Entry[] = [];
  let bytes = 0;
  for (const s of segments) {
    const size = s.reduce((n, e) => n + e.signed.b.length, 0);
    if (message.length && (message.length + s.length > MAX_RUN_ENTRIES || bytes + size > MAX_RUN_BYTES)) {
      messages.push(message);
      message = [];
      bytes = 0;
    }
    message.push(...s);
    bytes += size;
  }
  if (message.length) messages.push(message);
  return messages.map((m) =>
    m.map((e, i) => {
      const next = m[i + 1];
      const covered = e.version === 2 && next !== undefined && next.author === e.author && next.seq === e.seq + 1 && next.version === 2;
      return covered ? { b: e.signed.b } : e.signed;
    }),
  );
}
