/**
 * What the console tells a person without being asked: a task for them, a mention of their name,
 * a teammate held back for a new key, tampering suspected. Each is a notice in the console (the
 * header's Notifications, and a short-lived toast), and in the desktop app a system notification
 * too (host.notify: main validates it and shows it as plain text).
 *
 * Derived from what the session and workstream stores already show; only what happens after the
 * console joined (give or take the time for entries to sync) notifies, not a project's history.
 */
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import type { HostApi } from '../../src-shared/ipc';
import { isolate, type EntryView } from '../engine/workstream/entry-view';
import { useSessionStore } from './session.store';
import { useWorkstreamStore } from './workstream.store';

export type NoticeKind = 'task' | 'mention' | 'new-key' | 'tampering';

export interface ConsoleNotice {
  id: number;
  at: number;
  kind: NoticeKind;
  title: string;
  body: string;
  read: boolean;
}

/** Entries written up to this long before the workstream opened still notify (they were in flight). */
const RECENT_MS = 5 * 60_000;
const MAX_NOTICES = 50;

/**
 * Whether `text` names `name`: "@Ada" anywhere, or "Ada" as a whole word (not inside "Adam"),
 * ignoring case. A name of two letters or fewer only counts with the @.
 */
export function mentions(text: string, name: string): boolean {
  const wanted = name.trim().toLocaleLowerCase();
  if (!wanted) return false;
  const haystack = text.toLocaleLowerCase();
  if (haystack.includes(`@${wanted}`)) return true;
  if (wanted.length <= 2) return false;
  for (let at = haystack.indexOf(wanted); at >= 0; at = haystack.indexOf(wanted, at + 1)) {
    const before = haystack[at - 1];
    const after = haystack[at + wanted.length];
    const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
    if (!isWordChar(before) && !isWordChar(after)) return true;
  }
  return false;
}

export const useNotificationsStore = defineStore('notifications', () => {
  const notices = ref<ConsoleNotice[]>([]);
  let nextId = 1;
  let host: HostApi | undefined;

  function add(kind: NoticeKind, title: string, body: string): void {
    notices.value = [...notices.value.slice(-(MAX_NOTICES - 1)), { id: nextId++, at: Date.now(), kind, title, body, read: false }];
    // The OS notification is best effort: a refused one (no notification service) changes nothing here.
    if (host?.kind === 'desktop') host.notify({ title: title.slice(0, 120), body: body.slice(0, 400) }).catch(() => undefined);
  }

  function markAllRead(): void {
    if (notices.value.some((n) => !n.read)) notices.value = notices.value.map((n) => ({ ...n, read: true }));
  }

  function start(api: HostApi): void {
    host = api;
    const session = useSessionStore();
    const ws = useWorkstreamStore();
    // Names and titles from peers are isolated: a direction override in one cannot turn the notice around.
    const who = (peerId: string) => {
      const a = session.authorOf(peerId);
      return `${isolate(a.name)} #${a.keyTag}`;
    };

    // The workstream: a task naming me, a message naming me, from someone else.
    let seen = new Set<string>();
    let openedAt = 0;
    watch(
      () => ws.project,
      () => {
        seen = new Set();
        openedAt = Date.now();
      },
      { immediate: true },
    );
    watch(
      () => ws.entries,
      (entries: EntryView[]) => {
        const me = session.identity?.peerId;
        const name = session.settings?.displayName ?? '';
        for (const e of entries) {
          if (seen.has(e.id)) continue;
          seen.add(e.id);
          if (e.author === me || e.ts < openedAt - RECENT_MS) continue;
          if (e.kind === 'task' && !e.ref && e.task?.title && mentions(e.task.title, name)) add('task', 'A task for you', `${who(e.author)}: “${isolate(e.task.title)}”`);
          else if (e.kind === 'message' && mentions(e.summary, name)) add('mention', `${who(e.author)} mentioned you`, e.summary);
        }
      },
    );

    // A known name with a new key (or a rename onto a teammate's name): held back until the person decides.
    const heldBack = new Set<string>();
    watch(
      () => session.peerList,
      (rows) => {
        for (const p of rows) {
          const key = `${p.peerId}|${p.fingerprint}|${p.displayName}`;
          if (p.trust !== 'conflict' || heldBack.has(key)) continue;
          heldBack.add(key);
          // The key tag says which console it is: the name is the very thing in question.
          const title = p.renamedFrom !== undefined ? `“${isolate(p.renamedFrom)}” #${p.keyTag} now calls itself “${isolate(p.displayName)}”` : `“${isolate(p.displayName)}” #${p.keyTag} is using a new key`;
          add('new-key', title, 'Not linked until you decide: compare fingerprints with them out of band, then accept or reject.');
        }
      },
    );

    // Tampering suspected: forged or replayed signaling, an invalid identity, a signer of two versions of one entry.
    const suspected = new Set<string>();
    const suspect = (key: string, body: string) => {
      if (suspected.has(key)) return;
      suspected.add(key);
      add('tampering', 'Tampering suspected', body);
    };
    watch(
      () => [session.links, session.untrusted] as const,
      ([links, untrusted]) => {
        for (const [peerId, l] of Object.entries(links)) if (l.rejectedSignals > 0) suspect(`signal|${peerId}`, `Signaling for ${who(peerId)} that it did not sign reached this console: the registry may be tampering. Nothing of it was used.`);
        for (const [peerId, reason] of Object.entries(untrusted)) suspect(`identity|${peerId}`, `${who(peerId)}: ${reason}. It is not linked.`);
      },
    );
    watch(
      () => ws.equivocators,
      (ids) => {
        for (const peerId of ids) suspect(`entries|${peerId}`, `${who(peerId)} signed two different workstream entries under one number: the second was refused.`);
      },
    );
  }

  return { notices, start, markAllRead };
});
