import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { IdentityStore } from '../../../src-main/identity-store';
import { plainFileCodec, type SecretCodec } from '../../../src-main/secret-codec';
import { ed25519Verify, signedMessage, verifyPublicIdentity } from '../../../src-shared/identity';
import { toBase64Url } from '../../../src-shared/bytes';
import { earlyHelloPayload } from '../../../src-shared/protocol/early-hello';
import { checkEntry, encodeEntryBody } from '../../../src-shared/workstream/entry';

/** Stands in for safeStorage: reversible, but the secrets do not appear in clear text. */
const fakeKeychain: SecretCodec = {
  description: 'fake keychain',
  encrypted: true,
  seal: (plain) => 'sealed:' + Buffer.from(plain, 'utf8').toString('base64'),
  open: (sealed) => {
    if (!sealed.startsWith('sealed:')) throw new Error('not sealed by this keychain');
    return Buffer.from(sealed.slice('sealed:'.length), 'base64').toString('utf8');
  },
};

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-identity-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const readStored = (dir: string) => JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')) as Record<string, unknown>;

describe('IdentityStore', () => {
  it.each([
    ['plain file', plainFileCodec],
    ['encrypting codec', fakeKeychain],
  ])('creates identity.json (mode 0600) on first open and returns the same identity afterwards (%s)', async (_name, codec) => {
    const dir = tempDir();
    const first = await IdentityStore.open(dir, codec);
    const path = join(dir, 'identity.json');
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);

    const second = await IdentityStore.open(dir, codec);
    expect(second.info().peerId).toBe(first.info().peerId);
    expect(second.info().signingPublicKey).toEqual(first.info().signingPublicKey);
    expect(second.info().boxPublicKey).toEqual(first.info().boxPublicKey);
    expect(second.info().fingerprint).toBe(first.info().fingerprint);
    expect(second.info().storage).toBe(codec.description);
    expect(await verifyPublicIdentity(second.info())).toBe(true);
  });

  it('gives separate profiles separate identities', async () => {
    const a = await IdentityStore.open(tempDir(), plainFileCodec);
    const b = await IdentityStore.open(tempDir(), plainFileCodec);
    expect(a.info().peerId).not.toBe(b.info().peerId);
  });

  it('does not expose secret keys through info()', async () => {
    const info = (await IdentityStore.open(tempDir(), plainFileCodec)).info() as unknown as Record<string, unknown>;
    expect(Object.keys(info).sort()).toEqual(['boxKeySignature', 'boxPublicKey', 'fingerprint', 'peerId', 'signingPublicKey', 'storage']);
  });

  it('keeps the secret keys out of the file in clear text when the codec encrypts', async () => {
    const dir = tempDir();
    await IdentityStore.open(dir, fakeKeychain);
    const text = readFileSync(join(dir, 'identity.json'), 'utf8');
    const stored = readStored(dir);
    expect(stored.encrypted).toBe(true);
    expect(text).not.toContain('signingSecretKey');
    expect(text).not.toContain('boxSecretKey');
    const secrets = JSON.parse(fakeKeychain.open(stored.secrets as string)) as { signingSecretKey: string; boxSecretKey: string };
    expect(secrets.signingSecretKey.length).toBeGreaterThan(40);
    expect(text).not.toContain(secrets.signingSecretKey);
    expect(text).not.toContain(secrets.signingSecretKey.slice(0, 43)); // the 32-byte seed alone
    expect(text).not.toContain(secrets.boxSecretKey);
  });

  it('signs a registry challenge so that it verifies over signedMessage("registryAuth", nonce)', async () => {
    const store = await IdentityStore.open(tempDir(), fakeKeychain);
    const { signingPublicKey } = store.info();
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const signature = await store.signChallenge(nonce);
    expect(signature).toHaveLength(64);
    expect(await ed25519Verify(signingPublicKey, signedMessage('registryAuth', nonce), signature)).toBe(true);
    // Bound to this nonce and to the registry-auth purpose.
    expect(await ed25519Verify(signingPublicKey, signedMessage('registryAuth', new Uint8Array(32)), signature)).toBe(false);
    expect(await ed25519Verify(signingPublicKey, signedMessage('boxKey', nonce), signature)).toBe(false);
  });

  it('signs an early hello for the current time only, under its own purpose (never a challenge signature)', async () => {
    const store = await IdentityStore.open(tempDir(), fakeKeychain);
    const { signingPublicKey } = store.info();
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const now = Date.now();
    const payload = earlyHelloPayload(now + 1_500, salt);
    const signature = await store.signEarlyHello(payload, now);
    expect(await ed25519Verify(signingPublicKey, signedMessage('registryHello', payload), signature)).toBe(true);
    expect(await ed25519Verify(signingPublicKey, signedMessage('registryAuth', payload), signature)).toBe(false);
    // Collected now for a connection later (or dated back): refused, so a compromised renderer gets nothing lasting.
    await expect(store.signEarlyHello(earlyHelloPayload(now + 60_000, salt), now)).rejects.toThrow(/only for the current time/);
    await expect(store.signEarlyHello(earlyHelloPayload(now - 2_001, salt), now)).rejects.toThrow(/only for the current time/);
    await expect(store.signEarlyHello(new Uint8Array(32), now)).rejects.toThrow(/24 bytes/);
  });

  it('signs workstream entries of its own, written now, and refuses anything else', async () => {
    const store = await IdentityStore.open(tempDir(), plainFileCodec);
    const { signingPublicKey } = store.info();
    const now = Date.now();
    const draft = { project: 'team', authorKey: signingPublicKey, seq: 1, ts: now, kind: 'message', body: { text: 'hello' } };
    const body = encodeEntryBody(draft);
    const signature = await store.signEntry(body, now);
    const checked = await checkEntry({ b: body, s: signature }, 'team');
    expect(checked.ok).toBe(true);
    // Someone else's entry, an entry from another time, and a registry nonce are refused.
    await expect(store.signEntry(encodeEntryBody({ ...draft, authorKey: new Uint8Array(32).fill(7) }), now)).rejects.toThrow('only be signed by its author');
    await expect(store.signEntry(encodeEntryBody({ ...draft, ts: now - 3_600_000 }), now)).rejects.toThrow('its time is not now');
    await expect(store.signEntry(crypto.getRandomValues(new Uint8Array(32)), now)).rejects.toThrow('not a workstream entry');
  });

  it('still signs with the same key after a restart', async () => {
    const dir = tempDir();
    const { signingPublicKey } = (await IdentityStore.open(dir, fakeKeychain)).info();
    const reopened = await IdentityStore.open(dir, fakeKeychain);
    const nonce = new Uint8Array(32).fill(5);
    expect(await ed25519Verify(signingPublicKey, signedMessage('registryAuth', nonce), await reopened.signChallenge(nonce))).toBe(true);
  });

  it('refuses, with a clear error, to open a keychain-sealed identity when no keychain is available', async () => {
    const dir = tempDir();
    await IdentityStore.open(dir, fakeKeychain);
    const before = readFileSync(join(dir, 'identity.json'), 'utf8');
    await expect(IdentityStore.open(dir, plainFileCodec)).rejects.toThrow(/sealed by the OS keychain.*not available/);
    // The sealed identity is not replaced by a new one.
    expect(readFileSync(join(dir, 'identity.json'), 'utf8')).toBe(before);
  });

  it('refuses a file whose signing public key was swapped for another', async () => {
    const dir = tempDir();
    await IdentityStore.open(dir, plainFileCodec);
    const stored = readStored(dir);
    stored.signingPublicKey = toBase64Url(nacl.sign.keyPair().publicKey);
    writeFileSync(join(dir, 'identity.json'), JSON.stringify(stored));
    await expect(IdentityStore.open(dir, plainFileCodec)).rejects.toThrow(/inconsistent/);
  });

  it('refuses a file whose box public key was swapped for another', async () => {
    const dir = tempDir();
    await IdentityStore.open(dir, fakeKeychain);
    const stored = readStored(dir);
    stored.boxPublicKey = toBase64Url(nacl.box.keyPair().publicKey);
    writeFileSync(join(dir, 'identity.json'), JSON.stringify(stored));
    await expect(IdentityStore.open(dir, fakeKeychain)).rejects.toThrow(/inconsistent/);
  });

  it('refuses a file that is not JSON instead of silently creating a new identity', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'identity.json'), '{ not json');
    await expect(IdentityStore.open(dir, plainFileCodec)).rejects.toThrow(/identity\.json is unreadable/);
  });
});
