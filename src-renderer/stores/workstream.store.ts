/**
 * The workstream as the GUI sees it. The live engine (log, replication, file transfers) stays
 * outside reactivity; it reports into plain, serializable views here.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { Entry, StatusBody, TaskBody } from '../../src-shared/workstream/entry';
import type { Workstream, WorkstreamProblem } from '../engine/workstream/workstream';
import type { FileStatus } from '../engine/workstream/file-transfers';
import { entryView, type EntryView } from '../engine/workstream/entry-view';

export type { EntryView };

/** A task: its creating entry, and its state after every update that refers to it. */
export interface TaskView {
  id: string;
  title: string;
  state: string;
  progress?: number;
  /** Who claimed it last. */
  owner?: string;
  updatedAt: number;
}

export const MIB = 1024 * 1024;

export const useWorkstreamStore = defineStore('workstream', () => {
  const project = ref<string>();
  const entries = shallowRef<EntryView[]>([]);
  const files = ref<Record<string, FileStatus>>({});
  const problems = ref<WorkstreamProblem[]>([]);
  const equivocators = ref<string[]>([]);
  const error = ref<string>();
  /** This console's own entries that linked consoles have not confirmed yet: entry id → those consoles. */
  const undelivered = shallowRef<Record<string, string[]>>({});
  let ws: Workstream | undefined;
  /** Each entry's view, made once (entries are immutable; the log keeps the same objects). */
  const views = new WeakMap<Entry, EntryView>();
  const viewOf = (e: Entry): EntryView => {
    let v = views.get(e);
    if (!v) views.set(e, (v = entryView(e)));
    return v;
  };

  const tasks = computed(() => {
    const byId = new Map<string, TaskView>();
    for (const e of entries.value) {
      if (e.kind !== 'task' || !e.task) continue;
      if (!e.ref && e.task.title) {
        byId.set(e.id, { id: e.id, title: e.task.title, state: e.task.state, ...(e.task.progress !== undefined ? { progress: e.task.progress } : {}), updatedAt: e.ts });
        continue;
      }
      const task = e.ref ? byId.get(e.ref) : undefined;
      if (!task) continue; // an update to a task this console does not have (yet)
      task.state = e.task.state;
      if (e.task.progress !== undefined) task.progress = e.task.progress;
      if (e.task.state === 'claimed') task.owner = e.author;
      if (e.task.title) task.title = e.task.title;
      task.updatedAt = e.ts;
    }
    return byId;
  });

  /** Shows a console's workstream (opened by the engine: openConsole), or why it could not be opened. */
  function attach(options: { project: string; workstream: Workstream | undefined; error?: string; author: string }): void {
    detach();
    project.value = options.project;
    if (!options.workstream) {
      error.value = `the workstream could not be opened: ${options.error ?? 'unknown error'}`;
      return;
    }
    const opened = (ws = options.workstream);
    const refreshDelivery = () => {
      // Newest first: once one is confirmed by every linked console, so are all before it.
      const pending: Record<string, string[]> = {};
      const all = opened.log.entries();
      for (let i = all.length - 1; i >= 0; i--) {
        const e = all[i]!;
        if (e.author !== options.author) continue;
        const missing = opened.unconfirmed(e);
        if (missing.length === 0) break;
        pending[e.id] = missing;
      }
      if (ws === opened) undelivered.value = pending;
    };
    const refresh = () => {
      if (ws !== opened) return; // detached: the next console's views are not this one's
      entries.value = opened.log.entries().map(viewOf);
      equivocators.value = [...opened.log.equivocators];
      refreshDelivery();
    };
    opened.log.on('added', refresh);
    opened.onConfirmations(refreshDelivery);
    opened.files.on('status', (s) => {
      if (ws === opened) files.value = { ...files.value, [s.entryId]: s };
    });
    opened.onProblem((p) => {
      if (ws !== opened) return;
      problems.value = [...problems.value.slice(-49), p];
      equivocators.value = [...opened.log.equivocators];
    });
    refresh();
    for (const e of opened.log.entries()) if (e.kind === 'file') {
      const s = opened.files.status(e.id);
      if (s) files.value = { ...files.value, [e.id]: s };
    }
  }

  /** Stops showing the workstream (the engine closes it with its console). */
  function detach(): void {
    ws = undefined;
    entries.value = [];
    files.value = {};
    undelivered.value = {};
    problems.value = [];
    equivocators.value = [];
    error.value = undefined;
  }

  async function act<T>(step: (w: Workstream) => Promise<T>): Promise<T | undefined> {
    error.value = undefined;
    if (!ws) {
      error.value = 'join a project first: the workstream is the project’s';
      return undefined;
    }
    try {
      return await step(ws);
    } catch (e) {
      error.value = (e as Error).message;
      return undefined;
    }
  }

  return {
    project,
    entries,
    tasks,
    files,
    problems,
    equivocators,
    error,
    undelivered,
    attach,
    detach,
    postMessage: (text: string) => act((w) => w.post('message', { text })),
    createTask: (title: string) => act((w) => w.post('task', { title, state: 'open' })),
    updateTask: (taskId: string, change: Omit<TaskBody, 'title'>) => act((w) => w.post('task', change, taskId)),
    setStatus: (status: StatusBody) => act((w) => w.post('status', status)),
    share: (file: File) => act((w) => w.share(file, file.name)),
    download: (entryId: string) => act((w) => w.files.download(entryId)),
    blob: (entryId: string) => act((w) => w.files.blob(entryId)),
  };
});
