import { describe, expect, it } from 'vitest';
import { entryView, keyTag, percent, showBytes, showProgress, showText, showTime } from '../../../src-renderer/engine/workstream/entry-view';
import { keyFingerprint } from '../../../src-shared/identity';
import type { Entry } from '../../../src-shared/workstream/entry';

const KEY = new Uint8Array(32).fill(7);

/** An entry as the view gets it, with any field as hostile as a peer or an older store could make it. */
function entry(patch: Record<string, unknown>): Entry {
  return { id: 'aaaaaaaaaaaaaaaaaaaaaaaaaa:1', project: 'p', author: 'aaaaaaaaaaaaaaaaaaaaaaaaaa', authorKey: KEY, seq: 1, ts: 1_700_000_000_000, kind: 'message', ref: null, body: { text: 'hi' }, signed: { b: new Uint8Array(), s: new Uint8Array() }, ...patch } as Entry;
}

const circular: Record<string, unknown> = {};
circular.self = circular;
const HOSTILE = [undefined, null, NaN, Infinity, -Infinity, -1, 8.7e15, -8.7e15, Number.MAX_SAFE_INTEGER, 1e308, 10n ** 30n, '', 'x'.repeat(100_000), '\u202eevil', {}, [], circular, new Uint8Array(3), () => 1, Symbol('s')];

/** Everything the template prints is a string (or a finite number), and nothing threw on the way. */
function expectPrintable(view: ReturnType<typeof entryView>): void {
  for (const value of [view.id, view.author, view.keyTag, view.time, view.iso, view.kind, view.summary]) expect(typeof value).toBe('string');
  expect(view.summary.length).toBeLessThanOrEqual(8001);
  if (view.file) {
    expect(Number.isFinite(view.file.size)).toBe(true);
    expect(typeof view.file.sizeText).toBe('string');
    expect(typeof view.file.name).toBe('string');
  }
  if (view.task?.progress !== undefined) expect(view.task.progress).toBeGreaterThanOrEqual(0);
  if (view.task?.progress !== undefined) expect(view.task.progress).toBeLessThanOrEqual(100);
}

describe('the workstream view never throws on an entry, whatever its fields hold', () => {
  it('the time: beyond a Date’s range (the probe’s 8.7e15), negative, not a number', () => {
    expect(() => new Date(8.7e15).toISOString()).toThrow(); // what blanked the view
    for (const ts of HOSTILE) {
      const shown = showTime(ts);
      expect(typeof shown.time).toBe('string');
      expect(typeof shown.iso).toBe('string');
      expectPrintable(entryView(entry({ ts })));
    }
    expect(showTime(8.7e15)).toEqual({ time: 'time out of range (8700000000000000)', iso: '' });
    expect(showTime(0).iso).toBe('1970-01-01T00:00:00.000Z');
  });

  it('every field of every kind: text, names, task fields, statuses, file sizes and names, unknown kinds', () => {
    for (const value of HOSTILE) {
      const views = [
        entry({ body: { text: value } }),
        entry({ body: value }),
        entry({ kind: 'task', body: { title: value, state: value, progress: value, note: value } }),
        entry({ kind: 'task', ref: value, body: { state: 'progress', progress: value } }),
        entry({ kind: 'status', body: { state: value, text: value } }),
        entry({ kind: 'file', body: { name: value, size: value, sha256: value } }),
        entry({ kind: 'my-kind', body: { anything: value } }),
        entry({ kind: value, body: value }),
        entry({ id: value, author: value, authorKey: value, seq: value }),
      ].map(entryView);
      views.forEach(expectPrintable);
    }
  });

  it('the helpers', () => {
    expect(showText('x'.repeat(9000)).length).toBe(8001);
    expect(showText({ toString: () => 'sneaky' })).toBe('');
    expect(showBytes(1536)).toBe('1.5 KiB');
    expect(showBytes(Number.MAX_SAFE_INTEGER)).toMatch(/TiB$/);
    for (const n of [NaN, -1, Infinity, '12', undefined]) expect(showBytes(n)).toBe('?');
    expect(showProgress(40)).toBe(40);
    expect(showProgress(1e308)).toBe(100);
    expect(showProgress(-5)).toBe(0);
    expect(showProgress(NaN)).toBeUndefined();
    expect(percent(50, 200)).toBe(25);
    expect(percent(5, 0)).toBe(100);
    expect(percent(NaN, 10)).toBe(0);
    expect(percent(10, Infinity)).toBe(0);
    expect(percent(1e308, 1)).toBe(100);
    expect(keyTag(KEY)).toBe(keyFingerprint(KEY).slice(0, 4));
    expect(keyTag('not a key')).toBe('????');
  });

  it('a message, a task, a file and a status read as before', () => {
    expect(entryView(entry({})).summary).toBe('hi');
    expect(entryView(entry({ kind: 'task', body: { title: 'Ship it', state: 'progress', progress: 40, note: 'half' } })).summary).toBe('Ship it (progress 40 % — half)');
    expect(entryView(entry({ kind: 'status', body: { state: 'blocked', text: 'CI' } })).summary).toBe('blocked: CI');
    const file = entryView(entry({ kind: 'file', body: { name: 'a.bin', size: 2048, sha256: new Uint8Array(32) } }));
    expect(file.file).toEqual({ name: 'a.bin', size: 2048, sizeText: '2.0 KiB', sha256: '0'.repeat(64) });
    expect(entryView(entry({ kind: 'my-kind', body: { big: 10n, bytes: new Uint8Array(3) } })).summary).toBe('(my-kind) {"big":"10","bytes":"<3 bytes>"}');
  });
});
