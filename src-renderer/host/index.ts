import { BRIDGE_GLOBAL } from '../../src-shared/ipc-channels';
import type { HostApi, HostBridge } from '../../src-shared/ipc';
import { createDesktopHost } from './desktop-host';
import { createWebHost } from './web-host';

/** The desktop app's preload provides `window.wsp`; a plain browser tab does not. */
export async function detectHost(): Promise<HostApi> {
  const bridge = (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] as HostBridge | undefined;
  return bridge ? createDesktopHost(bridge) : createWebHost();
}
