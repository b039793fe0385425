/** HostApi over the preload bridge (`window.wsp`): unwraps `{ ok, value | error }` envelopes. */
import type { HostApi, HostBridge, IpcEnvelope } from '../../src-shared/ipc';

export class HostError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function unwrap<T>(call: Promise<IpcEnvelope<T>>): Promise<T> {
  const envelope = await call;
  if (envelope.ok) return envelope.value;
  throw new HostError(envelope.error.code, envelope.error.message);
}

export function createDesktopHost(bridge: HostBridge): HostApi {
  return {
    kind: 'desktop',
    getIdentity: () => unwrap(bridge.getIdentity()),
    signChallenge: (nonce) => unwrap(bridge.signChallenge(nonce)),
    signEarlyHello: (payload) => unwrap(bridge.signEarlyHello(payload)),
    certifySession: (body) => unwrap(bridge.certifySession(body)),
    signEntry: (body) => unwrap(bridge.signEntry(body)),
    getSettings: () => unwrap(bridge.getSettings()),
    updateSettings: (patch) => unwrap(bridge.updateSettings(patch)),
    registryStatus: () => unwrap(bridge.registryStatus()),
    startRegistry: () => unwrap(bridge.startRegistry()),
    stopRegistry: () => unwrap(bridge.stopRegistry()),
    createInvite: (request) => unwrap(bridge.createInvite(request)),
    listInvites: () => unwrap(bridge.listInvites()),
    revokeInvite: (id) => unwrap(bridge.revokeInvite(id)),
    loadTrust: () => unwrap(bridge.loadTrust()),
    saveTrust: (records) => unwrap(bridge.saveTrust(records)),
    notify: (notice) => unwrap(bridge.notify(notice)),
  };
}
