/**
 * Files in the workstream. Sharing a file appends a `file` entry (name, size, SHA-256 and one
 * SHA-256 per chunk, signed by the author) and keeps the chunks in the store; the content moves
 * only to consoles that ask for it.
 *
 * A download (download.ts) asks a console that holds the file for a window of chunks at a time
 * (pull: the receiver paces it, and the link's own flow control paces each chunk). Every chunk is checked
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
import { isolate } from './entry-view';
import type { WorkstreamLog } from './workstream-log';
import type { Channel, LinkBus } from '../channels';
import type { WorkstreamStore } from './workstream-store';
import { chunkSize, digest, Download, type DownloadContext } from './download';

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

export interface FileProblem {
  peerId?: string;
  code: string;
  message: string;
}

interface Events extends Record<string, unknown> {
  status: FileStatus;
  problem: FileProblem;
}

export interface FileTransferOptions {
  /** Files larger than this are neither shared nor downloaded. */
  maxFileBytes: () => number;
}

export class FileTooLargeError extends Error {}


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
    if (file.size > limit) throw new FileTooLargeError(`“${isolate(name)}” is ${formatBytes(file.size)}: files over ${formatBytes(limit)} cannot be shared (Settings → largest file)`);
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
      const message = `“${isolate(body.name)}” is ${formatBytes(body.size)}: files over ${formatBytes(limit)} are not downloaded (Settings → largest file)`;
      this.update(entryId, { state: 'failed', error: message });
      throw new FileTooLargeError(message);
    }
    if (this.statuses.get(entryId)?.state === 'complete') return;
    let d = this.active.get(entryId);
    if (!d) {
      d = new Download(this.contextFor(entry, body), entry, body);
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

  /** Whether every chunk is held and together they hash to the file's SHA-256. */
  private async verify(entryId: string, body: FileBody): Promise<boolean> {
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

  // --- internals -----------------------------------------------------------------------------------

  /** What a download of this file may do here: its chunks, its sources, its status, its messages. */
  private contextFor(entry: Entry, body: FileBody): DownloadContext {
    const sha = toHex(body.sha256);
    return {
      held: () => this.held(sha),
      source: (exclude) => this.sourceFor(sha, exclude, entry.author),
      store: (index, data) => this.storeChunk(sha, index, data),
      verify: () => this.verify(entry.id, body),
      update: (patch) => this.update(entry.id, patch),
      report: (problem) => this.report(problem),
      request: (peerId, indexes) => this.sendTo(peerId, { t: 'ws-file-get', project: entry.project, sha, indexes }),
      announce: () => this.announce([sha]),
    };
  }

  private sourceFor(sha: string, exclude: ReadonlySet<string>, author: string): string | undefined {
    const candidates = [...(this.holders.get(sha) ?? [])].filter((p) => this.linked.has(p) && !exclude.has(p));
    return candidates.includes(author) ? author : candidates[0];
  }

  private held(sha: string): Set<number> {
    let set = this.have.get(sha);
    if (!set) this.have.set(sha, (set = new Set()));
    return set;
  }

  private async storeChunk(sha: string, index: number, data: Uint8Array): Promise<void> {
    await this.store.putChunk(sha, index, data);
    this.held(sha).add(index);
  }

  private update(entryId: string, patch: Partial<FileStatus>): void {
    const status = this.statuses.get(entryId);
    if (!status) return;
    Object.assign(status, patch);
    if (patch.state && patch.state !== 'failed') delete status.error;
    this.emit('status', { ...status, uploads: { ...status.uploads } });
  }

  private report(problem: Events['problem']): void {
    this.emit('problem', problem);
  }

  private sendTo(peerId: string, message: FileMessage): Promise<boolean> {
    return this.channel.send(peerId, message).then(
      () => true,
      () => false,
    );
  }

  private announce(shas: string[]): void {
    for (const peerId of this.linked) this.sendTo(peerId, { t: 'ws-file-have', project: this.log.project, shas });
  }

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
