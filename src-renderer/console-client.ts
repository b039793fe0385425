/** What this console says it is in presence (`hello.client`, docs/PROTOCOL.md §4.1). */
import type { ClientInfo } from '../src-shared/protocol/signaling';

/** `__APP_VERSION__`: package.json's version, put in by the build (electron.vite.config.ts). */
export const CONSOLE_CLIENT: ClientInfo = { kind: 'console', software: 'wsp-console', version: __APP_VERSION__ };
