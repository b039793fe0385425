/**
 * Workstream log entries: the signed, immutable records teammates' consoles replicate.
 *
 * An entry travels and is stored as `{ b, s? }`: `b` the MessagePack-encoded body
 * `[2, project, authorKey, seq, ts, kind, ref, body, prev]`, `s` the author's Ed25519 signature
 * over signedMessage('workstreamEntry', b). Signing the encoded bytes (not a re-encoding of a
 * decoded object) makes verification independent of any encoder's key order, and makes
 * equivocation a plain byte comparison. The author's peer_id is derived from `authorKey`.
 *
 * `prev` is the SHA-256 of the author's previous entry's `b`, so a signature on entry n covers
 * entries 1..n: an author signs the last entry of a batch, and a receiver verifies a run of linked
 * entries with one signature (see chain.ts). Version 1 entries (no `prev`, each signed) are still
 * taken, as earlier consoles wrote them.
 */
import { decode } from '@msgpack/msgpack';
import { encode } from '../msgpack';
import { z } from '../zod';
import { equalBytes } from '../bytes';
import { derivePeerId, ed25519Verify, signedMessage } from '../identity';
import { bytes, projectIdSchema } from '../protocol/signaling';

/** The version this console writes; version 1 (each entry signed on its own) is still read. */
export const ENTRY_VERSION = 2;
/** Cap on an entry's encoded body: a file entry's chunk hash list is the largest (32 KiB). */
export const MAX_ENTRY_BYTES = 64 * 1024;
/** Files are cut into at most this many chunks, so the chunk hashes fit in one entry. */
export const MAX_FILE_CHUNKS = 1024;
export const MIN_CHUNK_BYTES = 256 * 1024;

export const TASK_STATES = ['open', 'claimed', 'progress', 'done'] as const;
export const AGENT_STATES = ['idle', 'working', 'blocked', 'away'] as const;

const kindSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'kind: lowercase letters, digits, dash');
/** An entry id: `<author peer_id>:<seq>`. */
export const entryIdSchema = z.string().regex(/^[a-z2-7]{26}:[1-9]\d{0,15}$/, 'not an entry id');

/** The bodies of the kinds the console knows; other kinds are kept and shown as they are. */
export const KNOWN_BODIES = {
  message: z.object({ text: z.string().trim().min(1).max(8000) }).strict(),
  task: z
    .object({
      title: z.string().trim().min(1).max(200).optional(),
      state: z.enum(TASK_STATES),
      progress: z.number().int().min(0).max(100).optional(),
      note: z.string().max(2000).optional(),
    })
    .strict(),
  status: z.object({ state: z.enum(AGENT_STATES), text: z.string().max(200).optional() }).strict(),
  file: z
    .object({
      name: z.string().min(1).max(255).refine((n) => !/[/\\\0]/.test(n), 'a file name, not a path'),
      size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      sha256: bytes({ exact: 32 }),
      chunkBytes: z.number().int().min(MIN_CHUNK_BYTES),
      /** SHA-256 of each chunk, concatenated: every chunk is verified as it arrives. */
      chunkHashes: bytes({ max: 32 * MAX_FILE_CHUNKS }),
      mime: z.string().max(127).optional(),
    })
    .strict()
    .refine((f) => f.chunkHashes.length === 32 * chunkCount(f.size, f.chunkBytes), 'one 32-byte hash per chunk'),
} as const;
export type KnownKind = keyof typeof KNOWN_BODIES;
export type MessageBody = z.infer<(typeof KNOWN_BODIES)['message']>;
export type TaskBody = z.infer<(typeof KNOWN_BODIES)['task']>;
export type StatusBody = z.infer<(typeof KNOWN_BODIES)['status']>;
export type FileBody = z.infer<(typeof KNOWN_BODIES)['file']>;

export function chunkCount(size: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(size / chunkBytes));
}

/** The chunk size for a file: at least 256 KiB, and large enough for at most 1024 chunks. */
export function chunkBytesFor(size: number): number {
  const step = 64 * 1024;
  return Math.max(MIN_CHUNK_BYTES, Math.ceil(size / MAX_FILE_CHUNKS / step) * step);
}

/** The latest time a JavaScript Date can hold (ms since the epoch): an entry dated later cannot be shown. */
export const MAX_ENTRY_TS = 8.64e15;

const commonFields = [
  projectIdSchema,
  bytes({ exact: 32 }),
  z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  z.number().int().min(0).max(MAX_ENTRY_TS),
  kindSchema,
  entryIdSchema.nullable(),
  z.unknown(),
] as const;
const bodyTupleSchema = z.union([
  z.tuple([z.literal(2), ...commonFields, bytes({ exact: 32 }).nullable()]),
  z.tuple([z.literal(1), ...commonFields]),
]);

/**
 * An entry as it travels and is stored. `s` is left out of an entry that a later entry of its
 * author covers (its signature covers this one through `prev`); a version 1 entry always has it.
 */
export interface SignedEntry {
  b: Uint8Array;
  s?: Uint8Array;
}

/** A verified entry, decoded. */
export interface Entry {
  id: string;
  project: string;
  author: string;
  authorKey: Uint8Array;
  seq: number;
  ts: number;
  kind: string;
  ref: string | null;
  body: unknown;
  /** 1: signed on its own; 2: linked to the author's previous entry by `prev`. */
  version: 1 | 2;
  /** SHA-256 of the author's previous entry's body bytes (version 2, seq > 1), else null. */
  prev: Uint8Array | null;
  signed: SignedEntry;
}

export interface EntryDraft {
  project: string;
  authorKey: Uint8Array;
  seq: number;
  ts: number;
  kind: string;
  ref?: string | null;
  body: unknown;
  /**
   * The SHA-256 of the author's entry seq − 1 (`entryHash`), null for seq 1: a version 2 entry.
   * Left out, the draft is encoded as version 1 (how earlier consoles wrote; tests of old data).
   */
  prev?: Uint8Array | null;
}

export type EntryProblem = 'MALFORMED_ENTRY' | 'ENTRY_FORGED' | 'ENTRY_TOO_LARGE' | 'WRONG_PROJECT';
export type EntryCheck = { ok: true; entry: Entry } | { ok: false; code: EntryProblem; message: string };

export const entryId = (author: string, seq: number): string => `${author}:${seq}`;

/** Encodes a draft's body for signing; throws if it is not a valid entry. */
export function encodeEntryBody(draft: EntryDraft): Uint8Array {
  return encodeEntry(draft).signed.b;
}

/** A draft encoded (throws if it is not a valid entry), as an entry not yet signed. */
export function encodeEntry(draft: EntryDraft): Entry {
  const fields = [draft.project, draft.authorKey, draft.seq, draft.ts, draft.kind, draft.ref ?? null, draft.body];
  const b = encode(draft.prev === undefined ? [1, ...fields] : [ENTRY_VERSION, ...fields, draft.prev]);
  const parsed = parseEntryBody(b);
  if (!parsed.ok) throw new Error(parsed.message);
  return { ...parsed.entry, signed: { b } };
}

/**
 * Decodes and validates an entry body (structure, sizes, the known kinds' bodies) without its
 * signature. Main uses it to sign nothing but entries; `checkEntry` adds the signature.
 */
export function parseEntryBody(b: Uint8Array): { ok: true; entry: Omit<Entry, 'signed'> } | { ok: false; code: 'MALFORMED_ENTRY' | 'ENTRY_TOO_LARGE'; message: string } {
  if (!(b instanceof Uint8Array)) return { ok: false, code: 'MALFORMED_ENTRY', message: 'entry body is not binary' };
  if (b.length > MAX_ENTRY_BYTES) return { ok: false, code: 'ENTRY_TOO_LARGE', message: `entry of ${b.length} bytes exceeds ${MAX_ENTRY_BYTES}` };
  let value: unknown;
  try {
    value = decode(b);
  } catch (error) {
    return { ok: false, code: 'MALFORMED_ENTRY', message: `entry is not MessagePack: ${(error as Error).message}` };
  }
  const tuple = bodyTupleSchema.safeParse(value);
  if (!tuple.success) return { ok: false, code: 'MALFORMED_ENTRY', message: describe(tuple.error) };
  const [version, project, authorKey, seq, ts, kind, ref, body] = tuple.data;
  const prev = version === 2 ? tuple.data[8] : null;
  if (version === 2 && (seq === 1) !== (prev === null)) return { ok: false, code: 'MALFORMED_ENTRY', message: seq === 1 ? 'prev: entry 1 has no previous entry (nil)' : 'prev: must be the SHA-256 of the previous entry' };
  const known = KNOWN_BODIES[kind as KnownKind] as z.ZodType | undefined;
  if (known) {
    const parsed = known.safeParse(body);
    if (!parsed.success) return { ok: false, code: 'MALFORMED_ENTRY', message: `${kind}: ${describe(parsed.error)}` };
    if (kind === 'task' && !ref && !(body as TaskBody).title) return { ok: false, code: 'MALFORMED_ENTRY', message: 'task: a new task needs a title' };
  }
  const author = authorIdOf(authorKey);
  return { ok: true, entry: { id: entryId(author, seq), project, author, authorKey, seq, ts, kind, ref, body, version, prev } };
}

/** How far an entry's timestamp may be from the signer's clock when it is signed. */
export const MAX_ENTRY_SKEW_MS = 5 * 60_000;

/**
 * How far ahead of a receiving console's clock an entry may be dated: the signer's own 5 minutes,
 * and as much again for the two consoles' clocks to differ. A later entry is refused for now (see
 * WorkstreamLog): taken when it comes again once the receiver's clock has got that far.
 */
export const MAX_ENTRY_AHEAD_MS = 2 * MAX_ENTRY_SKEW_MS;

/**
 * What a host checks before it signs an entry with the identity key: a well-formed entry body,
 * by this identity, written now. It signs nothing else (the key also signs registry challenges
 * and session certificates, each under its own context).
 */
export function assertEntryToSign(b: Uint8Array, signingPublicKey: Uint8Array, now = Date.now()): void {
  const parsed = parseEntryBody(b);
  if (!parsed.ok) throw new Error(`not a workstream entry: ${parsed.message}`);
  if (!equalBytes(parsed.entry.authorKey, signingPublicKey)) throw new Error('an entry can only be signed by its author');
  if (Math.abs(parsed.entry.ts - now) > MAX_ENTRY_SKEW_MS) throw new Error('an entry is signed when it is written: its time is not now');
}

const signedShape = z.object({ b: bytes(), s: bytes({ exact: 64 }).optional() }); // built once, not per entry

/** An entry as received, parsed but not yet verified: its signature, if it came with one, unchecked. */
export type ParsedEntry = Omit<Entry, 'signed'> & { signed: SignedEntry };
export type EntryParse = { ok: true; entry: ParsedEntry } | { ok: false; code: EntryProblem; message: string };

/** Shape, body and project of an entry as received; the signature is checked by the caller (chain.ts). */
export function parseSignedEntry(item: unknown, project: string): EntryParse {
  const shape = signedShape.safeParse(item);
  if (!shape.success) return { ok: false, code: 'MALFORMED_ENTRY', message: 'an entry is { b: bin, s?: bin 64 }' };
  const { b, s } = shape.data;
  const parsed = parseEntryBody(b);
  if (!parsed.ok) return parsed;
  if (parsed.entry.project !== project) return { ok: false, code: 'WRONG_PROJECT', message: `entry of project ${parsed.entry.project}, not ${project}` };
  if (parsed.entry.version === 1 && !s) return { ok: false, code: 'ENTRY_FORGED', message: `entry ${parsed.entry.id}: a version 1 entry carries its own signature` };
  return { ok: true, entry: { ...parsed.entry, signed: s ? { b, s } : { b } } };
}

/** Whether an entry's own signature is its author's. */
export function verifyEntrySignature(entry: Pick<ParsedEntry, 'authorKey' | 'signed'>): Promise<boolean> {
  const { b, s } = entry.signed;
  return s ? ed25519Verify(entry.authorKey, signedMessage('workstreamEntry', b), s) : Promise.resolve(false);
}

/** One entry that carries its own signature: everything a console checks before it stores it, except equivocation (see WorkstreamLog). */
export async function checkEntry(signed: unknown, project: string): Promise<EntryCheck> {
  const parsed = parseSignedEntry(signed, project);
  if (!parsed.ok) return parsed;
  if (!(await verifyEntrySignature(parsed.entry))) {
    return { ok: false, code: 'ENTRY_FORGED', message: `entry ${parsed.entry.id}: the signature is not its author's` };
  }
  return { ok: true, entry: keepCompact(parsed.entry) };
}

/**
 * Decoded bytes are views into the whole received message: keep compact copies, or storing one
 * entry would store (and keeping it would retain) the message it came in. `keepSignature` false
 * drops a signature that was not checked (a later one covers the entry).
 */
export function keepCompact(entry: ParsedEntry, keepSignature = true): Entry {
  const { b, s } = entry.signed;
  return { ...entry, signed: keepSignature && s ? { b: compact(b), s: compact(s) } : { b: compact(b) } };
}

export function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/** peer_id per author key: a log has few authors and many entries (SHA-512 in JS is not free). */
const authorIds = new Map<string, string>();
function authorIdOf(key: Uint8Array): string {
  const k = String.fromCharCode(...key);
  let id = authorIds.get(k);
  if (!id) {
    if (authorIds.size >= 4096) authorIds.clear();
    authorIds.set(k, (id = derivePeerId(key)));
  }
  return id;
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`;
}

/**
 * The one order every console shows: by time, then author, then sequence. The time is the
 * author's claim, so it is taken as at least that of the author's previous entry (`orderTs`):
 * an entry never sorts before its author's earlier ones, and every console computes the same key
 * from the author's own entries.
 */
export function compareEntries(x: { orderTs: number; author: string; seq: number }, y: { orderTs: number; author: string; seq: number }): number {
  return x.orderTs - y.orderTs || (x.author < y.author ? -1 : x.author > y.author ? 1 : 0) || x.seq - y.seq;
}
