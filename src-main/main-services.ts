/**
 * The desktop app's main-process services, composed without Electron: the identity, settings and
 * trust stores, the embedded registry, and the IPC dispatcher that checks every call's sender.
 * index.ts wires them to Electron; tests run the same composition in Node and drive the real
 * desktop renderer in a browser against it (tests/support/desktop-console.ts).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IdentityStore } from './identity-store';
import { SettingsStore } from './settings-store';
import { EmbeddedRegistry } from './embedded-registry';
import { TrustStore } from './trust-store';
import { createIpcDispatcher, createIpcHandlers } from './ipc-handlers';
import { createSenderCheck } from './security';
import type { SecretCodec } from './secret-codec';
import type { SystemNotice } from '../src-shared/ipc';

export interface MainServicesOptions {
  /** The user-data folder: identity, settings, trust and the registry's files. */
  dataDir: string;
  codec: SecretCodec;
  /** The display name until the user picks one. */
  username: string;
  /** The built renderer, which the embedded registry also serves as the web console. */
  rendererDir: string;
  logger: Logger;
  /** A registry port that wins over the settings' (WSP_REGISTRY_PORT; 0 picks a free one). */
  portOverride?: number;
  /** The renderer's origin when it is not the app's own (the dev server): the embedded registry lets it connect. */
  rendererOrigin?: string;
  /** Shows a validated notice as a system notification (index.ts: Electron's Notification). */
  notify?: (notice: SystemNotice) => void;
}

export type MainServices = Awaited<ReturnType<typeof createMainServices>>;

export async function createMainServices({ dataDir, codec, username, rendererDir, logger, portOverride, rendererOrigin, notify }: MainServicesOptions) {
  const identity = await IdentityStore.open(dataDir, codec);
  const settings = new SettingsStore(dataDir, username || 'me');
  const trust = new TrustStore(dataDir);
  const registry = new EmbeddedRegistry({
    port: () => portOverride ?? settings.get().embeddedRegistry.port,
    defaultProject: () => settings.get().embeddedRegistry.project,
    redis: () => settings.get().embeddedRegistry.redis,
    dataDir: join(dataDir, 'registry'),
    webRoot: rendererDir,
    ...(rendererOrigin ? { allowedOrigins: [rendererOrigin] } : {}),
    logger: logger.child({ component: 'registry' }),
  });
  if (settings.get().embeddedRegistry.enabled) await registry.start();
  const handlers = createIpcHandlers({ identity, settings, registry, trust, ...(notify ? { notify } : {}) });

  return {
    identity,
    settings,
    trust,
    registry,
    /** The IPC dispatcher for a renderer loaded from `rendererUrl`: only that page may call. */
    dispatcherFor: (rendererUrl: string) => createIpcDispatcher(handlers, createSenderCheck(rendererUrl), logger),
    stop: () => registry.stop(),
  };
}
