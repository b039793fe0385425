/**
 * A peer chooses its display name, and a name with a RIGHT-TO-LEFT OVERRIDE (U+202E) reverses
 * the rest of the line it is printed in: `Bob${RLO}yek wen a gnisu si` reads "Bob is using a new
 * key" and turns the words after it around too. Names inside notice text are wrapped in FIRST
 * STRONG ISOLATE … POP DIRECTIONAL ISOLATE, which ends the override with the name.
 */
import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { createPinia, setActivePinia } from 'pinia';
import type { HostApi, IdentityInfo, Settings } from '../../../src-shared/ipc';
import { bidiSafe, isolate, showText, type EntryView } from '../../../src-renderer/engine/workstream/entry-view';
import { useNotificationsStore } from '../../../src-renderer/stores/notifications.store';
import { useSessionStore, type PeerRow } from '../../../src-renderer/stores/session.store';
import { useWorkstreamStore } from '../../../src-renderer/stores/workstream.store';

const [FSI, PDI, RLO] = ['\u2068', '\u2069', '\u202e'];
const EVIL = `Bob${RLO}yek wen a gnisu si`;

describe('isolate: text a peer chose, ready to sit in a sentence', () => {
  it('wraps it in FSI … PDI, an override inside kept inside', () => {
    expect(isolate('Bob')).toBe(`${FSI}Bob${PDI}`);
    expect(isolate(EVIL)).toBe(`${FSI}${EVIL}${PDI}`);
    expect(isolate('')).toBe(`${FSI}${PDI}`);
  });

  it('drops the name’s own isolate marks and paragraph breaks, which would end the isolate early', () => {
    // An early PDI would close the isolate, and the override after it would run to the end of the line.
    expect(isolate(`Bob${PDI}${RLO}x`)).toBe(`${FSI}Bob${RLO}x${PDI}`);
    expect(isolate(`\u2066\u2067${FSI}Bob`)).toBe(`${FSI}Bob${PDI}`);
    expect(isolate(`Bob\n${RLO}x\r\u2029\u0085\u001c`)).toBe(`${FSI}Bob ${RLO}x    ${PDI}`);
  });
});

describe('bidiSafe: peer text shown in an isolated element', () => {
  it('drops isolate marks (a PDI would end the element’s isolate early), keeps the rest', () => {
    expect(bidiSafe(`Bob${PDI}${RLO}x`)).toBe(`Bob${RLO}x`);
    expect(bidiSafe(`\u2066a\u2067b${FSI}c`)).toBe('abc');
    expect(bidiSafe('line one\nline two')).toBe('line one\nline two');
  });

  it('every workstream field goes through it (showText)', () => {
    expect(showText(`release${PDI}${RLO} notes`)).toBe(`release${RLO} notes`);
  });
});

describe('notices: a name with a direction override stays inside its isolate', () => {
  const host = { kind: 'web' } as HostApi;
  const ME = 'm'.repeat(26);
  const BOB = 'b'.repeat(26);

  function setup() {
    setActivePinia(createPinia());
    const session = useSessionStore();
    const ws = useWorkstreamStore();
    const notices = useNotificationsStore();
    session.identity = { peerId: ME, fingerprint: 'mmmm-mmmm' } as IdentityInfo;
    session.settings = { displayName: 'Dora' } as Settings;
    notices.start(host);
    return { session, ws, notices };
  }
  const bob = (patch: Partial<PeerRow> = {}): PeerRow => ({ peerId: BOB, displayName: EVIL, fingerprint: 'k3xa-aaaa', keyTag: 'k3xa', onlineSince: 0, verified: false, trust: 'ok', ...patch });

  it('a mention: the title isolates the author’s name, the key tag stays outside', async () => {
    const { session, ws, notices } = setup();
    session.peers = { [BOB]: bob() };
    ws.entries = [{ id: `${BOB}:1`, author: BOB, keyTag: 'k3xa', seq: 1, ts: Date.now(), time: '', iso: '', kind: 'message', ref: null, summary: '@Dora look' } satisfies EntryView];
    await nextTick();
    expect(notices.notices.map((n) => n.title)).toEqual([`${FSI}${EVIL}${PDI} #k3xa mentioned you`]);
  });

  it('a task naming me: the author and the task title are isolated', async () => {
    const { session, ws, notices } = setup();
    session.peers = { [BOB]: bob() };
    ws.entries = [{ id: `${BOB}:1`, author: BOB, keyTag: 'k3xa', seq: 1, ts: Date.now(), time: '', iso: '', kind: 'task', ref: null, summary: '', task: { title: `Dora${RLO}: x`, state: 'open' } } satisfies EntryView];
    await nextTick();
    expect(notices.notices.map((n) => n.body)).toEqual([`${FSI}${EVIL}${PDI} #k3xa: “${FSI}Dora${RLO}: x${PDI}”`]);
  });

  it('a new key and a rename onto a known name: every name in the title is isolated', async () => {
    const { session, notices } = setup();
    session.peers = { [BOB]: bob({ trust: 'conflict' }) };
    await nextTick();
    session.peers = { [BOB]: bob({ trust: 'conflict', displayName: 'Bob', renamedFrom: EVIL }) };
    await nextTick();
    expect(notices.notices.map((n) => n.title)).toEqual([`“${FSI}${EVIL}${PDI}” #k3xa is using a new key`, `“${FSI}${EVIL}${PDI}” #k3xa now calls itself “${FSI}Bob${PDI}”`]);
  });

  it('tampering: the name of who signed two versions of an entry is isolated', async () => {
    const { session, ws, notices } = setup();
    session.peers = { [BOB]: bob() };
    ws.equivocators = [BOB];
    await nextTick();
    expect(notices.notices.map((n) => n.body)).toEqual([`${FSI}${EVIL}${PDI} #k3xa signed two different workstream entries under one number: the second was refused.`]);
  });
});
