/**
 * An agent's data directory: what makes it the same peer across runs.
 *
 *   identity.json   the identity keys (mode 0600; refused if group or world can read it)
 *   invite.json     the invite it joined with and its name, so `run` needs neither (mode 0600: a bearer token)
 *   entries.ndjson  the workstream log: one line per stored batch, appended and fsynced
 *   chunks/<sha>/<index>  shared and downloaded files' chunks
 *   trust.json      trust-on-first-use pins (TrustBook)
 *   lock            the pid of the process using the directory
 *   agent.sock      while `join`/`run`/`tail` runs: where it takes one-shot commands (control.ts)
 *
 * The log file is append-only: a batch is one JSON line, written and fsynced before the append
 * resolves (the log announces nothing before that), so a crash loses nothing acknowledged; a batch
 * torn by a crash is an incomplete last line, dropped on load — all of the batch or none of it,
 * as the IndexedDB store's transactions give the GUI.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { open, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { derivePeerId, type SecretIdentity } from '../src-shared/identity';
import { fromBase64Url, toBase64Url } from '../src-shared/bytes';
import type { TrustRecord } from '../src-shared/ipc';
import type { SignedEntry } from '../src-shared/workstream/entry';
import type { StoredEntry, WorkstreamStore } from '../src-renderer/engine/workstream/workstream-store';
import type { TrustStorage } from '../src-renderer/engine/trust-book';

export class AgentStorageError extends Error {}

export const IDENTITY_FILE = 'identity.json';
export const INVITE_FILE = 'invite.json';
export const ENTRIES_FILE = 'entries.ndjson';
export const TRUST_FILE = 'trust.json';
export const LOCK_FILE = 'lock';

export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

// --- identity ------------------------------------------------------------------------------------

const IDENTITY_FIELDS = ['signingPublicKey', 'signingSecretKey', 'boxPublicKey', 'boxSecretKey', 'boxKeySignature'] as const;
const IDENTITY_BYTES = { signingPublicKey: 32, signingSecretKey: 64, boxPublicKey: 32, boxSecretKey: 32, boxKeySignature: 64 };

/** Reads a file that holds a secret, refusing one that others can read (as ssh does). */
function readSecretFile(path: string): string {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new AgentStorageError(`${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): it holds a secret key. Run \`chmod 600 ${path}\` and try again.`);
  }
  return readFileSync(path, 'utf8');
}

/** Writes a secret file created with mode 0600 from the start (never briefly readable by others). */
function writeSecretFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The identity kept in the directory, or undefined if it has none yet. */
/** A secret file's text (readSecretFile's checks), or undefined if there is none. */
function readSecretFileIfAny(path: string): string | undefined {
  try {
    return readSecretFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function loadIdentity(dir: string): SecretIdentity | undefined {
  const path = join(dir, IDENTITY_FILE);
  const text = readSecretFileIfAny(path);
  if (text === undefined) return undefined;
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const keys = Object.fromEntries(IDENTITY_FIELDS.map((f) => [f, fromBase64Url(String(raw[f]))])) as Record<(typeof IDENTITY_FIELDS)[number], Uint8Array>;
    IDENTITY_FIELDS.forEach((f) => {
      if (keys[f].length !== IDENTITY_BYTES[f]) throw new Error(f);
    });
    return { peerId: derivePeerId(keys.signingPublicKey), ...keys };
  } catch {
    throw new AgentStorageError(`${path} is not an agent identity file (damaged?)`);
  }
}

export function saveIdentity(dir: string, identity: SecretIdentity): void {
  const fields = Object.fromEntries(IDENTITY_FIELDS.map((f) => [f, toBase64Url(identity[f])]));
  writeSecretFile(join(dir, IDENTITY_FILE), JSON.stringify({ peerId: identity.peerId, ...fields }, null, 2) + '\n');
}

// --- the joined invite ---------------------------------------------------------------------------

export interface SavedJoin {
  invite: string;
  name: string;
}

export function loadJoin(dir: string): SavedJoin | undefined {
  const path = join(dir, INVITE_FILE);
  const text = readSecretFileIfAny(path);
  if (text === undefined) return undefined;
  let raw: Partial<SavedJoin> | undefined;
  try {
    raw = JSON.parse(text) as Partial<SavedJoin>;
  } catch {
    /* reported below */
  }
  if (typeof raw?.invite !== 'string' || typeof raw.name !== 'string') throw new AgentStorageError(`${path} is damaged: join again with an invite (\`wsp-agent join INVITE --name NAME\`)`);
  return { invite: raw.invite, name: raw.name };
}

export function saveJoin(dir: string, saved: SavedJoin): void {
  writeSecretFile(join(dir, INVITE_FILE), JSON.stringify(saved, null, 2) + '\n');
}

// --- the lock ------------------------------------------------------------------------------------

/**
 * One process per data directory: two would both append to the log and number their own entries
 * from the same head (equivocation). A lock left by a process that died is taken over.
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  if (lockedHere.has(path)) throw inUse(dir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      lockedHere.add(path);
      return () => {
        lockedHere.delete(path);
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid > 0 && pid !== process.pid && isAlive(pid)) throw inUse(dir, pid);
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new AgentStorageError(`could not lock ${dir}`);
}

/** Locks this process holds (a lock file with our own pid and not in here is a stale one). */
const lockedHere = new Set<string>();

function inUse(dir: string, pid: number): AgentStorageError {
  return new AgentStorageError(`${dir} is in use by another wsp-agent (pid ${pid}). Stop it first, or use another --data-dir (one-shot commands are handed to a running \`wsp-agent join\`/\`run\`/\`tail\`, not to another program that opened the agent).`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// --- trust pins ----------------------------------------------------------------------------------

/** TrustBook's storage over a JSON file (the desktop keeps the same records through IPC). */
export function fileTrustStorage(dir: string): TrustStorage {
  const path = join(dir, TRUST_FILE);
  return {
    async load() {
      try {
        return JSON.parse(await readFile(path, 'utf8')) as TrustRecord[];
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new AgentStorageError(`${path} is damaged: ${(error as Error).message}`);
      }
    },
    async save(records) {
      const tmp = `${path}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(records, null, 2) + '\n', { mode: 0o600 });
      await rename(tmp, path);
    },
  };
}

// --- the workstream ------------------------------------------------------------------------------

interface EntryLine {
  author: string;
  seq: number;
  b: string;
  /** Left out for an entry a later one's signature covers (see src-shared/workstream/chain.ts). */
  s?: string;
}

/** The workstream store over files (see the file comment). */
export class FileWorkstreamStore implements WorkstreamStore {
  private readonly logPath: string;
  private readonly chunkDir: string;
  private fd: number | undefined;

  constructor(dir: string) {
    this.logPath = join(dir, ENTRIES_FILE);
    this.chunkDir = join(dir, 'chunks');
  }

  async loadEntries(): Promise<SignedEntry[]> {
    const fd = this.open();
    const text = readFileSync(this.logPath, 'utf8'); // ASCII only: JSON of base64 and ids
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      // A batch torn by a crash: never acknowledged, so dropped; later appends start on a fresh line.
      ftruncateSync(fd, end);
      fsyncSync(fd);
    }
    const entries: SignedEntry[] = [];
    for (const line of text.slice(0, end).split('\n')) {
      if (!line) continue;
      for (const e of JSON.parse(line) as EntryLine[]) entries.push(e.s ? { b: fromBase64Url(e.b), s: fromBase64Url(e.s) } : { b: fromBase64Url(e.b) });
    }
    return entries;
  }

  async appendEntries(entries: StoredEntry[]): Promise<void> {
    if (!entries.length) return;
    const fd = this.open();
    const line = JSON.stringify(entries.map(({ author, seq, b, s }) => ({ author, seq, b: toBase64Url(b), ...(s ? { s: toBase64Url(s) } : {}) }))) + '\n';
    writeSync(fd, line);
    fsyncSync(fd);
  }

  async putChunk(sha: string, index: number, data: Uint8Array): Promise<void> {
    const dir = join(this.chunkDir, safeSha(sha));
    await mkdir(dir, { recursive: true });
    const path = join(dir, String(index));
    const tmp = `${path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.write(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path); // a chunk is there whole or not at all
  }

  async getChunk(sha: string, index: number): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(join(this.chunkDir, safeSha(sha), String(index))));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async chunkIndexes(sha: string): Promise<Set<number>> {
    try {
      const names = await readdir(join(this.chunkDir, safeSha(sha)));
      return new Set(names.filter((n) => /^\d+$/.test(n)).map(Number));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      throw error;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd === undefined) {
      const created = !existsSync(this.logPath);
      this.fd = openSync(this.logPath, 'a+', 0o600);
      if (created) fsyncDir(dirname(this.logPath)); // the new file's name survives a power cut too
    }
    return this.fd;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Chunk directories are named by the file's hash; nothing else may reach the path. */
function safeSha(sha: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new AgentStorageError(`not a SHA-256: ${sha.slice(0, 80)}`);
  return sha;
}
