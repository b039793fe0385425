/**
 * Where a console keeps its workstream: the log's entries and shared files' chunks.
 *
 * IndexedDB in the renderer, for the desktop app and the web console alike: a batch of entries is
 * written as one record in one transaction, so a write interrupted by a crash or a reload leaves
 * all of it or none of it (never half an entry, never a gap); file chunks stream to disk as they
 * are verified, without crossing IPC or sitting in the main process's memory. The memory store has
 * the same contract, for tests in Node.
 */
import { decode } from '@msgpack/msgpack';
import { encode } from '../../../src-shared/msgpack';
import { compact, type SignedEntry } from '../../../src-shared/workstream/entry';

export interface StoredEntry extends SignedEntry {
  author: string;
  seq: number;
}

export interface WorkstreamStore {
  loadEntries(): Promise<SignedEntry[]>;
  /** All or nothing. An entry written again (it gained its signature) replaces or follows the earlier copy. */
  appendEntries(entries: StoredEntry[]): Promise<void>;
  putChunk(sha: string, index: number, data: Uint8Array): Promise<void>;
  getChunk(sha: string, index: number): Promise<Uint8Array | undefined>;
  /** Indexes of the chunks held for a file. */
  chunkIndexes(sha: string): Promise<Set<number>>;
  close(): void;
}

export class MemoryWorkstreamStore implements WorkstreamStore {
  readonly entries = new Map<string, SignedEntry>();
  readonly chunks = new Map<string, Uint8Array>();

  async loadEntries(): Promise<SignedEntry[]> {
    return [...this.entries.values()];
  }

  async appendEntries(entries: StoredEntry[]): Promise<void> {
    for (const e of entries) this.entries.set(`${e.author}:${e.seq}`, e.s ? { b: e.b, s: e.s } : { b: e.b });
  }

  async putChunk(sha: string, index: number, data: Uint8Array): Promise<void> {
    this.chunks.set(`${sha}:${index}`, data.slice());
  }

  async getChunk(sha: string, index: number): Promise<Uint8Array | undefined> {
    return this.chunks.get(`${sha}:${index}`);
  }

  async chunkIndexes(sha: string): Promise<Set<number>> {
    const found = new Set<number>();
    for (const key of this.chunks.keys()) if (key.startsWith(`${sha}:`)) found.add(Number(key.slice(sha.length + 1)));
    return found;
  }

  close(): void {}
}

/**
 * Version 2 appends each batch as one record (`log`: MessagePack of its `{ b, s? }` entries, the
 * author and number are in `b`): one put per batch, where a record per entry cost ~0.3 ms each in
 * Chromium (a put is a round trip to the browser process) and was most of what storing a batch
 * cost. Version 1's `entries` (a record per entry) is still read.
 */
const DB_VERSION = 2;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
}

/** One database per project; other tabs of the same origin share it (the log is the project's). */
export async function openIndexedDbStore(project: string): Promise<WorkstreamStore> {
  const open = indexedDB.open(`wsp-workstream:${project}`, DB_VERSION);
  open.onupgradeneeded = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('entries')) db.createObjectStore('entries', { keyPath: ['author', 'seq'] });
    if (!db.objectStoreNames.contains('log')) db.createObjectStore('log', { autoIncrement: true });
    if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks');
  };
  const db = await request(open);
  return {
    async loadEntries() {
      const tx = db.transaction(['entries', 'log'], 'readonly');
      const [rows, batches] = await Promise.all([request(tx.objectStore('entries').getAll()) as Promise<StoredEntry[]>, request(tx.objectStore('log').getAll()) as Promise<Uint8Array[]>]);
      const entries: SignedEntry[] = rows.map(({ b, s }) => (s ? { b: new Uint8Array(b), s: new Uint8Array(s) } : { b: new Uint8Array(b) }));
      // In the order written: an entry written again (it gained a signature) comes after its first copy.
      for (const batch of batches) for (const { b, s } of decode(batch) as SignedEntry[]) entries.push(s ? { b: compact(b), s: compact(s) } : { b: compact(b) });
      return entries;
    },
    async appendEntries(entries) {
      const tx = db.transaction('log', 'readwrite');
      tx.objectStore('log').add(encode(entries.map(({ b, s }) => (s ? { b, s } : { b }))));
      await done(tx);
    },
    async putChunk(sha, index, data) {
      const tx = db.transaction('chunks', 'readwrite');
      tx.objectStore('chunks').put(compact(data), [sha, index]); // not the whole message it arrived in
      await done(tx);
    },
    async getChunk(sha, index) {
      const tx = db.transaction('chunks', 'readonly');
      const value = (await request(tx.objectStore('chunks').get([sha, index]))) as Uint8Array | undefined;
      return value ? new Uint8Array(value) : undefined;
    },
    async chunkIndexes(sha) {
      const tx = db.transaction('chunks', 'readonly');
      const keys = await request(tx.objectStore('chunks').getAllKeys(IDBKeyRange.bound([sha, 0], [sha, Number.MAX_SAFE_INTEGER])));
      return new Set(keys.map((k) => (k as [string, number])[1]));
    },
    close: () => db.close(),
  };
}
