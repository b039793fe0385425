/**
 * IPC channel names and the HostApi method each backs. Kept free of zod so the sandboxed preload
 * bundles only this table; the argument schemas live in ipc.ts.
 */
export const IPC_METHODS = {
  'identity:get': 'getIdentity',
  'identity:sign-challenge': 'signChallenge',
  'identity:sign-early-hello': 'signEarlyHello',
  'identity:certify-session': 'certifySession',
  'identity:sign-entry': 'signEntry',
  'settings:get': 'getSettings',
  'settings:update': 'updateSettings',
  'registry:status': 'registryStatus',
  'registry:start': 'startRegistry',
  'registry:stop': 'stopRegistry',
  'registry:create-invite': 'createInvite',
  'registry:list-invites': 'listInvites',
  'registry:revoke-invite': 'revokeInvite',
  'trust:load': 'loadTrust',
  'trust:save': 'saveTrust',
  'notify:show': 'notify',
} as const;

export type IpcChannel = keyof typeof IPC_METHODS;

/** The name of the preload's bridge on `window`. */
export const BRIDGE_GLOBAL = 'wsp';
