/**
 * HostApi for the web console (a plain browser tab): settings in localStorage, the identity in
 * sessionStorage — each tab is its own console (two tabs sharing one key would replace each
 * other at the registry), and a reload keeps it. There is no embedded registry in a tab.
 *
 * The invite a tab joined with is kept beside its identity, in sessionStorage, not with the
 * settings: its token is a bearer credential until it expires, and a rejoin (a reload) needs
 * exactly it — the registry authenticates a join by the token. In localStorage it would outlive
 * the tab and sit where every later tab of the origin could read it, for a console (identity)
 * that no longer exists; in sessionStorage it goes when the tab closes, with the identity.
 */
import { createEd25519Signer, createIdentity, derivePeerId, ed25519Sign, keyFingerprint, signedMessage, type SecretIdentity } from '../../src-shared/identity';
import { fromBase64Url, toBase64Url } from '../../src-shared/bytes';
import { parseCertificateBody } from '../../src-shared/session-certificate';
import { assertEntryToSign } from '../../src-shared/workstream/entry';
import { describeSettingsIssue, settingsPatchSchema, settingsSchema, trustRecordsSchema, type HostApi, type Settings } from '../../src-shared/ipc';

const IDENTITY_KEY = 'wsp.identity.v1';
const SETTINGS_KEY = 'wsp.settings.v1';
const TRUST_KEY = 'wsp.trust.v1';
const INVITE_KEY = 'wsp.invite.v1';
type StoredIdentity = Record<Exclude<keyof SecretIdentity, 'peerId'>, string>;

async function loadIdentity(storage: Storage): Promise<SecretIdentity> {
  const saved = storage.getItem(IDENTITY_KEY);
  if (saved) {
    const s = JSON.parse(saved) as StoredIdentity;
    const signingPublicKey = fromBase64Url(s.signingPublicKey);
    return {
      peerId: derivePeerId(signingPublicKey),
      signingPublicKey,
      signingSecretKey: fromBase64Url(s.signingSecretKey),
      boxPublicKey: fromBase64Url(s.boxPublicKey),
      boxSecretKey: fromBase64Url(s.boxSecretKey),
      boxKeySignature: fromBase64Url(s.boxKeySignature),
    };
  }
  const identity = await createIdentity();
  const { peerId: _peerId, ...keys } = identity;
  storage.setItem(IDENTITY_KEY, JSON.stringify(Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, toBase64Url(v)]))));
  return identity;
}

function loadSettings(storage: Storage, peerId: string): Settings {
  const parsed = settingsSchema.safeParse(JSON.parse(storage.getItem(SETTINGS_KEY) ?? 'null'));
  if (parsed.success) return parsed.data;
  return settingsSchema.parse({ displayName: `Web console ${peerId.slice(0, 4)}`, embeddedRegistry: { enabled: false, port: 0, project: 'team' } });
}

/** Settings as this tab sees them: the shared ones, and the invite this tab joined with. */
function loadTabSettings(settingsStorage: Storage, tabStorage: Storage, peerId: string): Settings {
  const { invite: saved, ...shared } = loadSettings(settingsStorage, peerId);
  if (saved !== undefined) {
    // Kept there by an earlier version: out of localStorage, into the tab that opens first.
    settingsStorage.setItem(SETTINGS_KEY, JSON.stringify(shared));
    if (tabStorage.getItem(INVITE_KEY) === null) tabStorage.setItem(INVITE_KEY, saved);
  }
  const invite = tabStorage.getItem(INVITE_KEY);
  return invite === null ? shared : { ...shared, invite };
}

export async function createWebHost(settingsStorage: Storage = localStorage, identityStorage: Storage = sessionStorage): Promise<HostApi> {
  const identity = await loadIdentity(identityStorage);
  let settings = loadTabSettings(settingsStorage, identityStorage, identity.peerId);
  const signWithIdentity = createEd25519Signer(identity.signingSecretKey); // the key imported once
  const noRegistry = { available: false, running: false, error: 'a web console has no embedded registry' } as const;
  return {
    kind: 'web',
    async getIdentity() {
      const { peerId, signingPublicKey, boxPublicKey, boxKeySignature } = identity;
      return { peerId, signingPublicKey, boxPublicKey, boxKeySignature, fingerprint: keyFingerprint(signingPublicKey), storage: 'this browser tab (session storage)' };
    },
    signChallenge: (nonce) => ed25519Sign(identity.signingSecretKey, signedMessage('registryAuth', nonce)),
    // The tab holds the key itself: no boundary to keep a time check at (main checks one: identity-store.ts).
    signEarlyHello: (payload) => signWithIdentity(signedMessage('registryHello', payload)),
    certifySession: async (body) => {
      parseCertificateBody(body, Date.now());
      return ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body));
    },
    signEntry: async (body) => {
      assertEntryToSign(body, identity.signingPublicKey);
      return signWithIdentity(signedMessage('workstreamEntry', body));
    },
    async getSettings() {
      return structuredClone(settings);
    },
    async updateSettings(patch) {
      const parsed = settingsPatchSchema.safeParse(patch);
      if (!parsed.success) {
        throw new Error(describeSettingsIssue(parsed.error.issues[0]!));
      }
      const { invite, embeddedRegistry, links, ...rest } = parsed.data;
      const next = settingsSchema.parse({ ...settings, ...rest, links: { ...settings.links, ...links }, embeddedRegistry: { ...settings.embeddedRegistry, ...embeddedRegistry } });
      if (invite === null) delete next.invite;
      else if (invite !== undefined) next.invite = invite;
      const { invite: tabInvite, ...shared } = next;
      settingsStorage.setItem(SETTINGS_KEY, JSON.stringify(shared));
      if (tabInvite === undefined) identityStorage.removeItem(INVITE_KEY);
      else identityStorage.setItem(INVITE_KEY, tabInvite);
      settings = next;
      return structuredClone(settings);
    },
    registryStatus: async () => noRegistry,
    startRegistry: async () => noRegistry,
    stopRegistry: async () => noRegistry,
    createInvite: async () => {
      throw new Error('a web console cannot create invites: ask the registry’s operator or a desktop console');
    },
    listInvites: async () => [],
    revokeInvite: async () => {
      throw new Error('a web console cannot revoke invites: ask the registry’s operator (wsp-registry invite revoke)');
    },
    async loadTrust() {
      // Keyed by this tab's identity: pins belong to the console that made them.
      const parsed = trustRecordsSchema.safeParse(JSON.parse(settingsStorage.getItem(`${TRUST_KEY}.${identity.peerId}`) ?? '[]'));
      return parsed.success ? parsed.data : [];
    },
    // A tab shows its notifications in the page (the console's notification list) only.
    notify: async () => undefined,
    async saveTrust(records) {
      settingsStorage.setItem(`${TRUST_KEY}.${identity.peerId}`, JSON.stringify(trustRecordsSchema.parse(records)));
    },
  };
}
