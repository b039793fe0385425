/**
 * Sandboxed preload: exposes `window.wsp`, one method per IPC channel of the contract, and
 * nothing else (never ipcRenderer itself). Arguments are validated in main, not trusted here.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { BRIDGE_GLOBAL, IPC_METHODS, type IpcChannel } from '../src-shared/ipc-channels';
import type { HostBridge } from '../src-shared/ipc';

const bridge = Object.fromEntries(
  (Object.entries(IPC_METHODS) as Array<[IpcChannel, string]>).map(([channel, method]) => [
    method,
    (...args: unknown[]) => ipcRenderer.invoke(channel, ...args),
  ]),
) as HostBridge;

contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, bridge);
