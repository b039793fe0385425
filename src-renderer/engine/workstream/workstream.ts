/**
 * A console's workstream in one project: the log, its replication and files, wired to the peer
 * links. The GUI store and the test harness both start it through `openWorkstream`.
 */
import type { Entry, FileBody, KnownKind, MessageBody, StatusBody, TaskBody } from '../../../src-shared/workstream/entry';
import { FileTransfers } from './file-transfers';
import { WorkstreamLog } from './workstream-log';
import { WorkstreamSync, type LinkBus } from './workstream-sync';
import { openIndexedDbStore, type WorkstreamStore } from './workstream-store';

/** Something refused: a bad entry, a malformed message, a chunk that did not match. */
export interface WorkstreamProblem {
  code: string;
  message: string;
  /** The console it came from. */
  from?: string;
  at: number;
}

export interface WorkstreamOptions {
  project: string;
  author: { peerId: string; signingPublicKey: Uint8Array };
  /** The host signing an entry body with the identity key (see HostApi.signEntry). */
  signEntry(b: Uint8Array): Promise<Uint8Array>;
  links: LinkBus;
  maxFileBytes: () => number;
  /** Defaults to IndexedDB. */
  store?: WorkstreamStore;
  /** How often each link re-checks it is in sync (tests shorten it). */
  antiEntropyMs?: number;
}

export interface Workstream {
  log: WorkstreamLog;
  files: FileTransfers;
  post(kind: 'message', body: MessageBody): Promise<Entry>;
  post(kind: 'task', body: TaskBody, ref?: string): Promise<Entry>;
  post(kind: 'status', body: StatusBody): Promise<Entry>;
  post(kind: Exclude<string, KnownKind>, body: unknown, ref?: string): Promise<Entry>;
  share(file: Blob, name: string): Promise<Entry>;
  /** Rejected entries and malformed replication messages, for the GUI and diagnostics. */
  onProblem(listener: (problem: WorkstreamProblem) => void): () => void;
  /** The linked consoles that have not confirmed they hold this entry (see WorkstreamSync). */
  unconfirmed(entry: Pick<Entry, 'author' | 'seq'>): string[];
  /** Called when confirmations or the linked consoles change. */
  onConfirmations(listener: () => void): () => void;
  close(): void;
}

export async function openWorkstream(options: WorkstreamOptions): Promise<Workstream> {
  const store = options.store ?? (await openIndexedDbStore(options.project));
  const log = new WorkstreamLog(options.project, store);
  await log.load();
  const problemListeners = new Set<(problem: WorkstreamProblem) => void>();
  const report = (code: string, message: string, from?: string) => problemListeners.forEach((l) => l({ code, message, ...(from ? { from } : {}), at: Date.now() }));
  const sync = new WorkstreamSync(log, options.links, (p) => report(p.code, p.message, p.peerId), options.antiEntropyMs);
  const files = new FileTransfers(log, options.links, store, { maxFileBytes: options.maxFileBytes });
  await files.load();
  log.on('rejected', (r) => report(r.code, r.message, r.from));
  files.on('problem', (p) => report(p.code, p.message, p.peerId));
  const post = (kind: string, body: unknown, ref?: string) => log.append(options.author, kind, body, options.signEntry, ref ?? null);
  return {
    log,
    files,
    post: post as Workstream['post'],
    share: (file, name) => files.share(file, name, (body: FileBody) => post('file', body)),
    onProblem(listener) {
      problemListeners.add(listener);
      return () => problemListeners.delete(listener);
    },
    unconfirmed: (entry) => sync.unconfirmed(entry.author, entry.seq),
    onConfirmations: (listener) => sync.on('confirmations', listener),
    close() {
      sync.close();
      files.close();
      store.close();
    },
  };
}
