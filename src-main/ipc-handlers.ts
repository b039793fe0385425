/**
 * Main's side of the IPC contract, free of Electron so it is tested in Node: every call is
 * checked for its sender, its arguments are validated against the contract's schemas, and the
 * answer is an envelope — a value, or `{ code, message }` (never a stack trace).
 */
import type { Logger } from 'pino';
import { IPC_ARGS, describeSettingsIssue, type IpcChannel, type IpcEnvelope, type IpcHandlers } from '../src-shared/ipc';
import type { IdentityStore } from './identity-store';
import type { SettingsStore } from './settings-store';
import type { EmbeddedRegistry } from './embedded-registry';
import type { TrustStore } from './trust-store';
import type { SystemNotice } from '../src-shared/ipc';

export interface IpcDeps {
  identity: IdentityStore;
  settings: SettingsStore;
  registry: EmbeddedRegistry;
  trust: TrustStore;
  /** Shows a system notification (Electron's Notification in index.ts); absent: none is shown. */
  notify?: (notice: SystemNotice) => void;
}

export function createIpcHandlers({ identity, settings, registry, trust, notify }: IpcDeps): IpcHandlers {
  return {
    'identity:get': async () => identity.info(),
    'identity:sign-challenge': (nonce) => identity.signChallenge(nonce),
    'identity:sign-early-hello': (payload) => identity.signEarlyHello(payload),
    'identity:certify-session': (body) => identity.certifySession(body),
    'identity:sign-entry': (body) => identity.signEntry(body),
    'settings:get': async () => settings.get(),
    'settings:update': async (patch) => settings.update(patch),
    'registry:status': async () => registry.status(),
    'registry:start': () => registry.start(),
    'registry:stop': () => registry.stop(),
    'registry:create-invite': (request) => registry.createInvite(request),
    'registry:list-invites': async () => registry.listInvites(),
    'registry:revoke-invite': (id) => registry.revokeInvite(id),
    'trust:load': async () => trust.load(),
    'trust:save': async (records) => trust.save(records),
    'notify:show': async (notice) => notify?.(notice),
  };
}

/**
 * Wraps the handlers into what ipcMain.handle receives. `isTrustedSender` decides from the
 * sending frame's URL; anything else (another origin, a sub-frame, a navigated window) is refused.
 */
export function createIpcDispatcher(handlers: IpcHandlers, isTrustedSender: (frameUrl: string | undefined) => boolean, logger: Logger) {
  return async function dispatch(channel: IpcChannel, senderUrl: string | undefined, args: unknown[]): Promise<IpcEnvelope<unknown>> {
    if (!isTrustedSender(senderUrl)) {
      logger.warn({ channel }, 'IPC call from an untrusted sender refused');
      return { ok: false, error: { code: 'FORBIDDEN_SENDER', message: 'this window may not call the console' } };
    }
    const parsed = IPC_ARGS[channel].safeParse(args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      // Settings the user typed are told in the Settings panel's words; other arguments are the code's.
      const message = channel === 'settings:update' ? describeSettingsIssue({ ...issue, path: issue.path.slice(1) }) : `${channel}: ${issue.path.join('.') || 'arguments'}: ${issue.message}`;
      return { ok: false, error: { code: 'INVALID_ARGUMENT', message } };
    }
    try {
      const handler = handlers[channel] as (...a: unknown[]) => Promise<unknown>;
      return { ok: true, value: await handler(...(parsed.data as unknown[])) };
    } catch (error) {
      logger.warn({ channel, err: (error as Error).message }, 'IPC call failed');
      return { ok: false, error: { code: 'FAILED', message: (error as Error).message } };
    }
  };
}
