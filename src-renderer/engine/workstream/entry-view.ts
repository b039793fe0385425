/**
 * What the workstream view shows of an entry, computed once per entry, by helpers that never
 * throw. An entry is its author's claim: the log checks it on the way in, but what was stored by
 * an earlier version, or a kind this console does not know, is shown as well. One entry that
 * cannot be formatted must not take the whole view with it (a time beyond what a Date holds made
 * `toISOString` throw, and Vue drops a component whose render throws), so every field is
 * formatted defensively here and the template only prints strings.
 */
import { formatBytes, toHex } from '../../../src-shared/bytes';
import { keyFingerprint } from '../../../src-shared/identity';
import type { Entry } from '../../../src-shared/workstream/entry';

export interface EntryView {
  id: string;
  author: string;
  /** The first group of the author's key fingerprint: which key wrote it, next to the name. */
  keyTag: string;
  seq: number;
  ts: number;
  /** The entry's time as the user reads it, and as `<time datetime>` takes it ('' if it has none). */
  time: string;
  iso: string;
  kind: string;
  ref: string | null;
  /** One line for the log: the message, the task change, the status, the file name. */
  summary: string;
  task?: { title?: string; state: string; progress?: number; note?: string };
  status?: { state: string; text?: string };
  file?: { name: string; size: number; sizeText: string; sha256: string };
}

const MAX_SUMMARY = 8000;

/** A string to show for any value: text as it is (capped, without isolate marks: see bidiSafe), numbers and booleans written out, anything else ''. */
export function showText(value: unknown, max = MAX_SUMMARY): string {
  if (typeof value === 'string') {
    const text = bidiSafe(value);
    return text.length > max ? `${text.slice(0, max)}…` : text;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/**
 * Text a peer chose without its isolate marks (U+2066–U+2069). Its direction marks (a right-to-left
 * override) are kept: an isolate around the text ends them. But a POP DIRECTIONAL ISOLATE in the
 * text would end that isolate early, and the override after it would turn the rest of the line
 * around: Chromium closes the isolate of a `unicode-bidi: isolate` element (`.user-text`) at one,
 * just as it would close isolate()'s.
 */
export function bidiSafe(text: string): string {
  return text.replace(/[\u2066-\u2069]/g, '');
}

/**
 * Text a peer chose (a display name, a task title), ready to sit inside a sentence: bidiSafe, its
 * paragraph breaks made spaces (a new paragraph ends every isolate), wrapped in FIRST STRONG
 * ISOLATE … POP DIRECTIONAL ISOLATE, so a right-to-left override in it ends with it and cannot
 * turn the rest of the line around. Text in an element of its own with `unicode-bidi: isolate`
 * (`.user-text`) needs only bidiSafe; strings (notices, system notifications, `<option>`s, graph
 * labels, tooltips) need this.
 */
export function isolate(text: string): string {
  return `\u2068${bidiSafe(text).replace(/[\n\r\u001c-\u001e\u0085\u2029]/g, ' ')}\u2069`;
}

/** The entry's time for people and for `datetime`; never throws, whatever `ts` is. */
export function showTime(ts: unknown): { time: string; iso: string } {
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return { time: 'no time', iso: '' };
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return { time: `time out of range (${ts})`, iso: '' };
  try {
    return { time: date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }), iso: date.toISOString() };
  } catch {
    return { time: String(ts), iso: '' };
  }
}

/** A byte count as `formatBytes` writes it, or '?' for anything that is not one. */
export function showBytes(n: unknown): string {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? formatBytes(n) : '?';
}

/** 0–100, or undefined when `value` is no percentage. */
export function showProgress(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(100, Math.max(0, Math.round(value))) : undefined;
}

/** How much of `total` is `done`, in whole percent (0–100); never NaN. */
export function percent(done: unknown, total: unknown): number {
  if (typeof done !== 'number' || typeof total !== 'number' || !Number.isFinite(done) || !Number.isFinite(total)) return 0;
  if (total <= 0) return 100;
  return Math.min(100, Math.max(0, Math.floor((100 * done) / total)));
}

/** The first group of a key's fingerprint (4 characters), or '????' if it is not a key. */
export function keyTag(key: unknown): string {
  if (!(key instanceof Uint8Array)) return '????';
  const hex = toHex(key);
  let tag = tags.get(hex);
  if (!tag) {
    if (tags.size >= 4096) tags.clear();
    tags.set(hex, (tag = keyFingerprint(key).slice(0, 4)));
  }
  return tag;
}
/** A log has few authors and many entries (the fingerprint is a SHA-512). */
const tags = new Map<string, string>();

function safeJson(value: unknown): string {
  try {
    return showText(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : typeof v === 'bigint' ? String(v) : v)), 300);
  } catch {
    return '…';
  }
}

const field = (body: unknown, name: string): unknown => (typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined);

function describe(e: Entry): Pick<EntryView, 'summary' | 'task' | 'status' | 'file'> {
  const body = e.body;
  switch (e.kind) {
    case 'message':
      return { summary: showText(field(body, 'text')) };
    case 'task': {
      const title = showText(field(body, 'title'), 200) || undefined;
      const note = showText(field(body, 'note'), 2000) || undefined;
      const progress = showProgress(field(body, 'progress'));
      const task = { state: showText(field(body, 'state'), 32) || 'unknown', ...(title ? { title } : {}), ...(note ? { note } : {}), ...(progress !== undefined ? { progress } : {}) };
      const change = `${task.state}${progress !== undefined && task.state !== 'done' ? ` ${progress} %` : ''}${note ? ` — ${note}` : ''}`;
      return { task, summary: title ? `${title} (${change})` : change };
    }
    case 'status': {
      const text = showText(field(body, 'text'), 200) || undefined;
      const status = { state: showText(field(body, 'state'), 32) || 'unknown', ...(text ? { text } : {}) };
      return { status, summary: `${status.state}${text ? `: ${text}` : ''}` };
    }
    case 'file': {
      const name = showText(field(body, 'name'), 255) || '(unnamed file)';
      const rawSize = field(body, 'size');
      const size = typeof rawSize === 'number' && Number.isFinite(rawSize) && rawSize >= 0 ? rawSize : 0;
      const sha = field(body, 'sha256');
      return { file: { name, size, sizeText: showBytes(rawSize), sha256: sha instanceof Uint8Array ? toHex(sha) : '' }, summary: name };
    }
    default:
      return { summary: `(${showText(e.kind, 32)}) ${safeJson(body)}` };
  }
}

/** The view of one entry; whatever its fields hold, this returns (an entry it cannot read says so). */
export function entryView(e: Entry): EntryView {
  const base = {
    id: showText(e.id, 64),
    author: showText(e.author, 64),
    keyTag: keyTag(e.authorKey),
    seq: typeof e.seq === 'number' ? e.seq : 0,
    ts: typeof e.ts === 'number' ? e.ts : 0,
    ...showTime(e.ts),
    kind: showText(e.kind, 32) || 'unknown',
    ref: typeof e.ref === 'string' ? e.ref : null,
  };
  try {
    return { ...base, ...describe(e) };
  } catch {
    return { ...base, summary: '(an entry this console cannot show)' };
  }
}
