/** The desktop app's embedded registry as the GUI sees it: status, start/stop, invites and their revocation. */
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { EmbeddedRegistryStatus, HostApi, InviteSummary } from '../../src-shared/ipc';

const STATUS_POLL_MS = 3000;

export const useEmbeddedRegistryStore = defineStore('embeddedRegistry', () => {
  const status = ref<EmbeddedRegistryStatus>({ available: false, running: false });
  const busy = ref(false);
  const lastInvite = ref<string>();
  const invites = ref<InviteSummary[]>([]);
  const error = ref<string>();
  let host: HostApi | undefined;
  let poll: ReturnType<typeof setInterval> | undefined;

  async function init(api: HostApi): Promise<void> {
    host = api;
    status.value = await api.registryStatus();
    await loadInvites();
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
      await loadInvites();
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
      await loadInvites();
      return lastInvite.value;
    } catch (e) {
      error.value = (e as Error).message;
      return undefined;
    }
  }

  async function loadInvites(): Promise<void> {
    invites.value = status.value.running ? await host!.listInvites() : [];
  }

  /** Revokes an invite: the registry refuses it from now on and disconnects the consoles it admitted. */
  async function revokeInvite(id: string): Promise<void> {
    error.value = undefined;
    try {
      invites.value = await host!.revokeInvite(id);
    } catch (e) {
      error.value = (e as Error).message;
    }
  }

  return { status, busy, lastInvite, invites, error, init, start, stop, refresh, createInvite, revokeInvite };
});
