/**
 * One file being fetched (file-transfers.ts has the whole protocol): a window of chunks asked of
 * one console that has the file, topped up as chunks arrive; each chunk checked against its hash
 * from the signed entry before it is kept; a source that is lost, lies or stalls given up for
 * another, resuming from the chunks already verified; the whole file checked at the end.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, toHex } from '../../../src-shared/bytes';
import { chunkCount, type Entry, type FileBody } from '../../../src-shared/workstream/entry';
import type { FileProblem, FileStatus } from './file-transfers';
import { isolate } from './entry-view';

/** Chunks asked for at once: enough to keep a link busy, little to redo after a drop. */
const WINDOW_CHUNKS = 16;
/** A source that sends nothing for this long is given up for another. */
const STALL_MS = 20_000;

/**
 * A chunk's SHA-256: WebCrypto's (off the main thread) where the page has it; a web console opened
 * over plain http from another machine is not a secure context and has none, so JavaScript's there.
 */
const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle;
export const digest = async (data: Uint8Array) => (subtle ? new Uint8Array(await subtle.digest('SHA-256', data as BufferSource)) : sha256(data));

/** What a Download may do: all of it about its own file (FileTransfers.contextFor). */
export interface DownloadContext {
  /** The file's chunks held here, verified. */
  held(): ReadonlySet<number>;
  /** A linked console that has the file (its author first), none of `exclude`. */
  source(exclude: ReadonlySet<string>): string | undefined;
  /** Keeps a verified chunk. */
  store(index: number, data: Uint8Array): Promise<void>;
  /** Whether every chunk is held and together they hash to the file's SHA-256. */
  verify(): Promise<boolean>;
  update(patch: Partial<FileStatus>): void;
  report(problem: FileProblem): void;
  /** Asks a console for chunks; false if the link is gone. */
  request(peerId: string, indexes: number[]): Promise<boolean>;
  /** Tells the linked consoles this console has the whole file now. */
  announce(): void;
}

/** One file being fetched. */
export class Download {
  readonly sha: string;
  readonly finished: Promise<void>;
  private readonly count: number;
  private readonly badSources = new Set<string>();
  private source: string | undefined;
  /** The current window, from the current source. */
  private outstanding = new Set<number>();
  /** Every chunk asked for and not yet answered, and whom it was asked of. */
  private readonly asked = new Map<number, string>();
  /** Chunks arrived and being checked: not asked for again meanwhile, even if their source left. */
  private readonly checking = new Set<number>();
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  private stallTimer: ReturnType<typeof setTimeout> | undefined;
  private done = false;

  constructor(
    private readonly files: DownloadContext,
    private readonly entry: Entry,
    private readonly body: FileBody,
  ) {
    this.sha = toHex(body.sha256);
    this.count = chunkCount(body.size, body.chunkBytes);
    this.finished = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.wake();
  }

  /**
   * Something changed (a chunk stored, a link opened, a console announced the file): keep a
   * window of chunks asked for, topping it up when half of it has arrived, so the source never
   * waits for a request.
   */
  wake(): void {
    if (this.done) return;
    const held = this.files.held();
    if (held.size >= this.count) return void this.complete();
    if (!this.source) {
      this.source = this.files.source(this.badSources);
      if (!this.source) return this.files.update({ state: 'waiting', error: 'waiting for a console that has the file' });
      this.files.update({ state: 'downloading', source: this.source });
    }
    if (this.outstanding.size > WINDOW_CHUNKS / 2) return;
    const wanted: number[] = [];
    for (let i = 0; i < this.count && wanted.length < WINDOW_CHUNKS - this.outstanding.size; i++) if (!held.has(i) && !this.outstanding.has(i) && !this.checking.has(i)) wanted.push(i);
    if (!wanted.length) return;
    const source = this.source;
    for (const i of wanted) {
      this.outstanding.add(i);
      this.asked.set(i, source);
    }
    this.armStallTimer();
    void this.files.request(source, wanted).then((sent) => {
      if (!sent) this.sourceLost(source);
    });
  }

  sourceLost(peerId: string): void {
    if (this.done || peerId !== this.source) return;
    this.source = undefined;
    this.outstanding.clear();
    clearTimeout(this.stallTimer);
    // Resumes from the last verified chunk, from whichever console has the file.
    setTimeout(() => this.wake(), 0);
  }

  async receive(peerId: string, m: { t: 'ws-file-chunk'; index: number; data: Uint8Array } | { t: 'ws-file-missing'; index: number }): Promise<void> {
    if (this.done || this.asked.get(m.index) !== peerId) return;
    this.asked.delete(m.index);
    const current = peerId === this.source;
    if (current) this.armStallTimer();
    if (m.t === 'ws-file-missing') return current ? this.giveUpOn(peerId, `it does not have chunk ${m.index}`, false) : undefined;
    const expected = this.body.chunkHashes.subarray(32 * m.index, 32 * m.index + 32);
    this.checking.add(m.index);
    const valid = m.data.length === chunkSize(this.body, m.index) && equalBytes(await digest(m.data), expected);
    if (!valid) this.checking.delete(m.index);
    if (!valid) {
      this.files.report({ peerId, code: 'FILE_CHUNK_INVALID', message: `chunk ${m.index} of “${isolate(this.body.name)}” from ${peerId.slice(0, 6)} does not match its hash: discarded` });
      return this.giveUpOn(peerId, 'it sent a chunk that does not match', true);
    }
    // A verified chunk is kept even if its link dropped while it was being checked.
    if (this.done) return;
    await this.files.store(m.index, m.data);
    this.checking.delete(m.index);
    this.outstanding.delete(m.index);
    const held = this.files.held();
    const bytesHeld = [...held].reduce((sum, i) => sum + chunkSize(this.body, i), 0);
    this.files.update({ bytes: bytesHeld });
    if (!this.outstanding.size) clearTimeout(this.stallTimer);
    this.wake();
  }

  cancel(reason: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.stallTimer);
    this.settle.reject(new Error(reason));
  }

  private giveUpOn(peerId: string, why: string, bad: boolean): void {
    if (bad) this.badSources.add(peerId);
    if (peerId !== this.source) return;
    if (!bad) this.files.report({ peerId, code: 'FILE_SOURCE_LOST', message: `${peerId.slice(0, 6)}: ${why}; trying another console` });
    this.sourceLost(peerId);
  }

  private armStallTimer(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      const stalled = this.source;
      if (stalled) this.giveUpOn(stalled, `sent nothing for ${STALL_MS / 1000} s`, false);
    }, STALL_MS);
  }

  private async complete(): Promise<void> {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.stallTimer);
    if (!(await this.files.verify())) {
      const message = `“${isolate(this.body.name)}” does not match its SHA-256: not offered (the author’s chunk hashes and file hash disagree)`;
      this.files.update({ state: 'failed', error: message });
      return this.settle.reject(new Error(message));
    }
    this.files.update({ state: 'complete', bytes: this.body.size });
    this.files.announce();
    this.settle.resolve();
  }
}

export function chunkSize(body: FileBody, index: number): number {
  return Math.max(0, Math.min(body.chunkBytes, body.size - index * body.chunkBytes));
}

