/** The desktop app's embedded registry as the GUI sees it: status, start/stop, invites. */
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { EmbeddedRegistryStatus, HostApi } from '../../src-shared/ipc';

const STATUS_POLL_MS = 3000;

export const useEmbeddedRegistryStore = defineStore('embeddedRegistry', () => {
  const status = ref<EmbeddedRegistryStatus>({ available: false, running: false });
  const busy = ref(false);
  const lastInvite = ref<string>();
  const error = ref<string>();
  let host: HostApi | undefined;
  let poll: ReturnType<typeof setInterval> | undefined;

  async function init(api: HostApi): Promise<void> {
    host = api;
    status.value = await api.registryStatus();
    // The number of connected consoles changes without the GUI doing anything: keep it current.
    clearInterval(poll);
    if (status.value.available) {
      poll = setInterval(() => {
        if (!busy.value) void api.registryStatus().then((s) => (busy.value ? undefined : (status.value = s)), () => undefined);
      }, STATUS_POLL_MS);
    }
  }

  async function run(step: () => Promise<EmbeddedRegistryStatus>): Promise<void> {
    busy.value = true;
    error.value = undefined;
    try {
      status.value = await step();
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  }

  const start = () => run(() => host!.startRegistry());
  const stop = () => run(() => host!.stopRegistry());
  const refresh = () => run(() => host!.registryStatus());

  async function createInvite(ttlMs: number, maxUses?: number): Promise<string | undefined> {
    error.value = undefined;
    try {
      lastInvite.value = (await host!.createInvite({ ttlMs, ...(maxUses ? { maxUses } : {}) })).link;
      return lastInvite.value;
    } catch (e) {
      error.value = (e as Error).message;
      return undefined;
    }
  }

  return { status, busy, lastInvite, error, init, start, stop, refresh, createInvite };
});
