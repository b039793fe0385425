/**
 * Files in the workstream. Sharing a file appends a `file` entry (name, size, SHA-256 and one
 * SHA-256 per chunk, signed by the author) and keeps the chunks in the store; the content moves
 * only to consoles that ask for it.
 *
 * A download asks a console that holds the file for a window of chunks at a time (pull: the
 * receiver paces it, and the link's own flow control paces each chunk). Every chunk is checked
 * against its hash from the signed entry before it is stored, so a dropped link, a reload or a
 * lying peer costs at most one window: the download resumes from the chunks already verified,
 * from any console that has the file. The whole file is checked against its SHA-256 before it
 * is offered to the user.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { z } from '../../../src-shared/zod';
import { equalBytes, formatBytes, toHex } from '../../../src-shared/bytes';
import { bytes } from '../../../src-shared/protocol/signaling';
import { chunkBytesFor, chunkCount, type Entry, type FileBody } from '../../../src-shared/workstream/entry';
import { Emitter } from '../emitter';
import type { WorkstreamLog } from './workstream-log';
import type { Channel, LinkBus } from '../channels';
import type { WorkstreamStore } from './workstream-store';

/** Chunks asked for at once: enough to keep a link busy, little to redo after a drop. */
const WINDOW_CHUNKS = 16;
/** A source that sends nothing for this long is given up for another. */
const STALL_MS = 20_000;

const shaSchema = z.string().regex(/^[0-9a-f]{64}$/);
const fileMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ws-file-have'), project: z.string(), shas: z.array(shaSchema).max(10_000) }),
  z.object({ t: z.literal('ws-file-get'), project: z.string(), sha: shaSchema, indexes: z.array(z.number().int().min(0)).min(1).max(64) }),
  z.object({ t: z.literal('ws-file-chunk'), project: z.string(), sha: shaSchema, index: z.number().int().min(0), data: bytes() }),
  z.object({ t: z.literal('ws-file-missing'), project: z.string(), sha: shaSchema, index: z.number().int().min(0) }),
]);
type FileMessage = z.infer<typeof fileMessageSchema>;

export type TransferState = 'remote' | 'waiting' | 'downloading' | 'complete' | 'failed';
export interface FileStatus {
  entryId: string;
  sha: string;
  name: string;
  size: number;
  state: TransferState;
  /** Bytes held and verified. */
  bytes: number;
  source?: string;
  error?: string;
  /** Bytes sent to each console asking for this file. */
  uploads: Record<string, number>;
}

interface Events extends Record<string, unknown> {
  status: FileStatus;
  problem: { peerId?: string; code: string; message: string };
}

export interface FileTransferOptions {
  /** Files larger than this are neither shared nor downloaded. */
  maxFileBytes: () => number;
}

export class FileTooLargeError extends Error {}

/**
 * A chunk's SHA-256: WebCrypto's (off the main thread) where the page has it; a web console opened
 * over plain http from another machine is not a secure context and has none, so JavaScript's there.
 */
const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle;
const digest = async (data: Uint8Array) => (subtle ? new Uint8Array(await subtle.digest('SHA-256', data as BufferSource)) : sha256(data));

export class FileTransfers extends Emitter<Events> {
  private readonly statuses = new Map<string, FileStatus>();
  private readonly have = new Map<string, Set<number>>();
  private readonly holders = new Map<string, Set<string>>();
  private readonly linked = new Set<string>();
  private readonly active = new Map<string, Download>();
  /** Entries whose status is being read from the store (track), so each is read once. */
  private readonly tracking = new Map<string, Promise<void>>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly channel: Channel<FileMessage>;

  constructor(
    private readonly log: WorkstreamLog,
    links: LinkBus,
    private readonly store: WorkstreamStore,
    private readonly options: FileTransferOptions,
  ) {
    super();
    this.channel = links.channel<FileMessage>({
      name: 'files',
      types: { prefix: 'ws-file-' },
      schema: fileMessageSchema,
      handle: (peerId, message) => this.onMessage(peerId, message),
      invalid: (peerId, t, issue) => this.report({ peerId, code: 'MALFORMED_MESSAGE', message: `${t}: ${issue}` }),
    });
    const gone = ({ peerId }: { peerId: string }) => {
      this.linked.delete(peerId);
      for (const set of this.holders.values()) set.delete(peerId);
      for (const d of this.active.values()) d.sourceLost(peerId);
    };
    this.unsubscribe.push(
      () => this.channel.close(),
      links.on('open', ({ peerId }) => {
        this.linked.add(peerId);
        this.sendTo(peerId, { t: 'ws-file-have', project: log.project, shas: this.completeShas() });
        for (const d of this.active.values()) d.wake();
      }),
      links.on('closed', gone),
      links.on('held', gone),
      // The peer's old end is gone with what it was asked: ask again now (its new end will say
      // what it has), rather than when the stall timer gives up on it.
      links.on('reset', ({ peerId }) => {
        for (const d of this.active.values()) d.sourceLost(peerId);
      }),
      log.on('added', ({ entries }) => void this.track(entries)),
    );
  }

  /**
   * Reads what the store holds for every file entry of the log (call after the log loaded), and
   * carries on with downloads a restart or reload interrupted (some chunks held, not all).
   */
  async load(): Promise<void> {
    await this.track(this.log.entries().filter((e) => e.kind === 'file'));
    for (const s of this.statuses.values()) if (s.state === 'remote' && s.bytes > 0) this.download(s.entryId).catch(() => undefined);
  }

  status(entryId: string): FileStatus | undefined {
    const s = this.statuses.get(entryId);
    return s && { ...s, uploads: { ...s.uploads } };
  }

  /** Shares a file: chunks stored, hashes computed, then the signed entry appended. */
  async share(file: Blob, name: string, append: (body: FileBody) => Promise<Entry>): Promise<Entry> {
    const limit = this.options.maxFileBytes();
    if (file.size > limit) throw new FileTooLargeError(`“${name}” is ${formatBytes(file.size)}: files over ${formatBytes(limit)} cannot be shared (Settings → largest file)`);
    const chunkBytes = chunkBytesFor(file.size);
    const count = chunkCount(file.size, chunkBytes);
    const whole = sha256.create();
    const chunkHashes = new Uint8Array(32 * count);
    const read = (i: number) => file.slice(i * chunkBytes, (i + 1) * chunkBytes).arrayBuffer().then((b) => new Uint8Array(b));
    // Two passes over the file (hash, then store under the hash), never all of it in memory.
    for (let i = 0; i < count; i++) {
      const data = await read(i);
      whole.update(data);
      chunkHashes.set(await digest(data), 32 * i);
    }
    const sha256Bytes = whole.digest();
    const sha = toHex(sha256Bytes);
    const held = this.held(sha);
    for (let i = 0; i < count; i++) {
      await this.store.putChunk(sha, i, await read(i));
      held.add(i);
    }
    const body: FileBody = { name, size: file.size, sha256: sha256Bytes, chunkBytes, chunkHashes, ...(file.type ? { mime: file.type.slice(0, 127) } : {}) };
    const entry = await append(body);
    this.announce([sha]);
    return entry;
  }

  /**
   * Starts (or resumes) downloading a file entry; resolves when it is complete and verified. The
   * entry may be newer than its status (the log announces it before the store has said which
   * chunks are held): that is read first.
   */
  async download(entryId: string): Promise<void> {
    const entry = this.log.get(entryId);
    if (!entry || entry.kind !== 'file') throw new Error(`no file entry ${entryId}`);
    const body = entry.body as FileBody;
    const limit = this.options.maxFileBytes();
    await this.track([entry]);
    if (body.size > limit) {
      const message = `“${body.name}” is ${formatBytes(body.size)}: files over ${formatBytes(limit)} are not downloaded (Settings → largest file)`;
      this.update(entryId, { state: 'failed', error: message });
      throw new FileTooLargeError(message);
    }
    if (this.statuses.get(entryId)?.state === 'complete') return;
    let d = this.active.get(entryId);
    if (!d) {
      d = new Download(this, entry, body);
      this.active.set(entryId, d);
      void d.finished.finally(() => this.active.delete(entryId)).catch(() => undefined);
    }
    return d.finished;
  }

  /** The file's content, checked against its SHA-256; undefined until it is complete. */
  async blob(entryId: string): Promise<Blob | undefined> {
    const entry = this.log.get(entryId);
    if (!entry || entry.kind !== 'file') return undefined;
    const body = entry.body as FileBody;
    if (!(await this.verify(entry.id, body))) return undefined;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < chunkCount(body.size, body.chunkBytes); i++) parts.push((await this.store.getChunk(toHex(body.sha256), i))!);
    return new Blob(parts as BlobPart[], { type: body.mime ?? 'application/octet-stream' });
  }

  /** @internal Whether every chunk is held and together they hash to the file's SHA-256. */
  async verify(entryId: string, body: FileBody): Promise<boolean> {
    const sha = toHex(body.sha256);
    const whole = sha256.create();
    for (let i = 0; i < chunkCount(body.size, body.chunkBytes); i++) {
      const chunk = await this.store.getChunk(sha, i);
      if (!chunk) return false;
      whole.update(chunk);
    }
    if (equalBytes(whole.digest(), body.sha256)) return true;
    this.update(entryId, { state: 'failed', error: 'the content does not match the file’s SHA-256' });
    return false;
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    for (const d of this.active.values()) d.cancel('closed');
  }

  // --- used by Download ------------------------------------------------------------------------

  /** @internal */ sourceFor(sha: string, exclude: Set<string>, author: string): string | undefined {
    const candidates = [...(this.holders.get(sha) ?? [])].filter((p) => this.linked.has(p) && !exclude.has(p));
    return candidates.includes(author) ? author : candidates[0];
  }

  /** @internal */ held(sha: string): Set<number> {
    let set = this.have.get(sha);
    if (!set) this.have.set(sha, (set = new Set()));
    return set;
  }

  /** @internal */ async storeChunk(sha: string, index: number, data: Uint8Array): Promise<void> {
    await this.store.putChunk(sha, index, data);
    this.held(sha).add(index);
  }

  /** @internal */ update(entryId: string, patch: Partial<FileStatus>): void {
    const status = this.statuses.get(entryId);
    if (!status) return;
    Object.assign(status, patch);
    if (patch.state && patch.state !== 'failed') delete status.error;
    this.emit('status', { ...status, uploads: { ...status.uploads } });
  }

  /** @internal */ report(problem: Events['problem']): void {
    this.emit('problem', problem);
  }

  /** @internal */ sendTo(peerId: string, message: FileMessage): Promise<boolean> {
    return this.channel.send(peerId, message).then(
      () => true,
      () => false,
    );
  }

  /** @internal */ announce(shas: string[]): void {
    for (const peerId of this.linked) this.sendTo(peerId, { t: 'ws-file-have', project: this.log.project, shas });
  }

  // --- internals -----------------------------------------------------------------------------------

  private completeShas(): string[] {
    return [...this.statuses.values()].filter((s) => s.state === 'complete').map((s) => s.sha);
  }

  /** Reads which chunks of these file entries are held; an entry already read or being read is not read again. */
  private async track(entries: readonly Entry[]): Promise<void> {
    for (const entry of entries) {
      if (entry.kind !== 'file' || this.statuses.has(entry.id)) continue;
      let reading = this.tracking.get(entry.id);
      if (!reading) {
        reading = this.readStatus(entry).finally(() => this.tracking.delete(entry.id));
        this.tracking.set(entry.id, reading);
      }
      await reading;
    }
  }

  private async readStatus(entry: Entry): Promise<void> {
    const body = entry.body as FileBody;
    const sha = toHex(body.sha256);
    const held = this.have.get(sha) ?? (await this.store.chunkIndexes(sha));
    this.have.set(sha, held);
    const count = chunkCount(body.size, body.chunkBytes);
    const bytesHeld = [...held].reduce((sum, i) => sum + chunkSize(body, i), 0);
    this.statuses.set(entry.id, { entryId: entry.id, sha, name: body.name, size: body.size, state: held.size >= count ? 'complete' : 'remote', bytes: bytesHeld, uploads: {} });
    const holders = this.holders.get(sha) ?? new Set<string>();
    holders.add(entry.author); // the author has it (if it is still linked)
    this.holders.set(sha, holders);
    this.emit('status', this.status(entry.id)!);
  }

  private onMessage(peerId: string, m: FileMessage): void {
    if (m.project !== this.log.project) return;
    switch (m.t) {
      case 'ws-file-have':
        for (const sha of m.shas) {
          const set = this.holders.get(sha) ?? new Set<string>();
          set.add(peerId);
          this.holders.set(sha, set);
        }
        for (const d of this.active.values()) d.wake();
        return;
      case 'ws-file-get':
        void this.serve(peerId, m.sha, m.indexes);
        return;
      case 'ws-file-chunk':
      case 'ws-file-missing':
        for (const d of this.active.values()) if (d.sha === m.sha) d.receive(peerId, m);
        return;
    }
  }

  /** Sends the chunks a console asked for, one at a time at the link's pace. */
  private async serve(peerId: string, sha: string, indexes: number[]): Promise<void> {
    const status = [...this.statuses.values()].find((s) => s.sha === sha);
    for (const index of indexes) {
      const data = await this.store.getChunk(sha, index);
      if (!data) {
        await this.sendTo(peerId, { t: 'ws-file-missing', project: this.log.project, sha, index });
        continue;
      }
      if (!(await this.sendTo(peerId, { t: 'ws-file-chunk', project: this.log.project, sha, index, data }))) return;
      if (status) this.update(status.entryId, { uploads: { ...status.uploads, [peerId]: (status.uploads[peerId] ?? 0) + data.length } });
    }
  }
}

/** One file being fetched. */
class Download {
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
    private readonly files: FileTransfers,
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
    const held = this.files.held(this.sha);
    if (held.size >= this.count) return void this.complete();
    if (!this.source) {
      this.source = this.files.sourceFor(this.sha, this.badSources, this.entry.author);
      if (!this.source) return this.files.update(this.entry.id, { state: 'waiting', error: 'waiting for a console that has the file' });
      this.files.update(this.entry.id, { state: 'downloading', source: this.source });
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
    void this.files.sendTo(source, { t: 'ws-file-get', project: this.entry.project, sha: this.sha, indexes: wanted }).then((sent) => {
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
      this.files.report({ peerId, code: 'FILE_CHUNK_INVALID', message: `chunk ${m.index} of “${this.body.name}” from ${peerId.slice(0, 6)} does not match its hash: discarded` });
      return this.giveUpOn(peerId, 'it sent a chunk that does not match', true);
    }
    // A verified chunk is kept even if its link dropped while it was being checked.
    if (this.done) return;
    await this.files.storeChunk(this.sha, m.index, m.data);
    this.checking.delete(m.index);
    this.outstanding.delete(m.index);
    const held = this.files.held(this.sha);
    const bytesHeld = [...held].reduce((sum, i) => sum + chunkSize(this.body, i), 0);
    this.files.update(this.entry.id, { bytes: bytesHeld });
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
    if (!(await this.files.verify(this.entry.id, this.body))) {
      const message = `“${this.body.name}” does not match its SHA-256: not offered (the author’s chunk hashes and file hash disagree)`;
      this.files.update(this.entry.id, { state: 'failed', error: message });
      return this.settle.reject(new Error(message));
    }
    this.files.update(this.entry.id, { state: 'complete', bytes: this.body.size });
    this.files.announce([this.sha]);
    this.settle.resolve();
  }
}

function chunkSize(body: FileBody, index: number): number {
  return Math.max(0, Math.min(body.chunkBytes, body.size - index * body.chunkBytes));
}

