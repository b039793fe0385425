/**
 * The console's identity, created on first start and kept in the user-data folder. Public keys are
 * stored plain; the secret keys are sealed with the SecretCodec (safeStorage in Electron).
 * The secret keys never leave the main process: the renderer asks main to sign.
 */
import { join } from 'node:path';
import { z } from '../src-shared/zod';
import { createIdentity, derivePeerId, ed25519Sign, keyFingerprint, signedMessage, verifyPublicIdentity, type SecretIdentity } from '../src-shared/identity';
import { fromBase64Url, toBase64Url } from '../src-shared/bytes';
import type { IdentityInfo } from '../src-shared/ipc';
import { parseCertificateBody } from '../src-shared/session-certificate';
import { assertEntryToSign } from '../src-shared/workstream/entry';
import { EARLY_HELLO_SIGNING_SLACK_MS, earlyHelloTime } from '../src-shared/protocol/early-hello';
import type { SecretCodec } from './secret-codec';
import { readJson, writeJsonAtomic } from './json-file';

const FILE = 'identity.json';
const storedSchema = z.object({
  version: z.literal(1),
  signingPublicKey: z.string(),
  boxPublicKey: z.string(),
  boxKeySignature: z.string(),
  encrypted: z.boolean(),
  /** codec.seal(JSON {signingSecretKey, boxSecretKey} in base64url) */
  secrets: z.string(),
});

export class IdentityStore {
  private constructor(private readonly identity: SecretIdentity, private readonly codec: SecretCodec) {}

  /** Loads the identity from `dir`, creating and saving a new one on first start. */
  static async open(dir: string, codec: SecretCodec): Promise<IdentityStore> {
    const path = join(dir, FILE);
    const raw = readJson(path);
    if (raw === undefined) {
      const identity = await createIdentity();
      writeJsonAtomic(path, {
        version: 1,
        signingPublicKey: toBase64Url(identity.signingPublicKey),
        boxPublicKey: toBase64Url(identity.boxPublicKey),
        boxKeySignature: toBase64Url(identity.boxKeySignature),
        encrypted: codec.encrypted,
        secrets: codec.seal(JSON.stringify({
          signingSecretKey: toBase64Url(identity.signingSecretKey),
          boxSecretKey: toBase64Url(identity.boxSecretKey),
        })),
      } satisfies z.infer<typeof storedSchema>);
      return new IdentityStore(identity, codec);
    }
    const stored = storedSchema.parse(raw);
    if (stored.encrypted && !codec.encrypted) {
      throw new Error('the identity is sealed by the OS keychain, which is not available now');
    }
    const secrets = JSON.parse(codec.open(stored.secrets)) as { signingSecretKey: string; boxSecretKey: string };
    const signingPublicKey = fromBase64Url(stored.signingPublicKey);
    const identity: SecretIdentity = {
      peerId: derivePeerId(signingPublicKey),
      signingPublicKey,
      boxPublicKey: fromBase64Url(stored.boxPublicKey),
      boxKeySignature: fromBase64Url(stored.boxKeySignature),
      signingSecretKey: fromBase64Url(secrets.signingSecretKey),
      boxSecretKey: fromBase64Url(secrets.boxSecretKey),
    };
    const keyMatches = toBase64Url(identity.signingSecretKey.subarray(32)) === stored.signingPublicKey;
    if (!keyMatches || !(await verifyPublicIdentity(identity))) throw new Error(`${path} is inconsistent: its keys do not match`);
    return new IdentityStore(identity, codec);
  }

  info(): IdentityInfo {
    const { peerId, signingPublicKey, boxPublicKey, boxKeySignature } = this.identity;
    return { peerId, signingPublicKey, boxPublicKey, boxKeySignature, fingerprint: keyFingerprint(signingPublicKey), storage: this.codec.description };
  }

  signChallenge(nonce: Uint8Array): Promise<Uint8Array> {
    return ed25519Sign(this.identity.signingSecretKey, signedMessage('registryAuth', nonce));
  }

  /**
   * Signs an early hello's time and salt, for a connection made now: a time more than 2 s from
   * this clock is refused, so a compromised renderer cannot collect hellos to admit it later.
   */
  async signEarlyHello(payload: Uint8Array, now = Date.now()): Promise<Uint8Array> {
    const at = earlyHelloTime(payload);
    if (Math.abs(at - now) > EARLY_HELLO_SIGNING_SLACK_MS) throw new Error(`an early hello is signed only for the current time (it says ${new Date(at).toISOString()})`);
    return ed25519Sign(this.identity.signingSecretKey, signedMessage('registryHello', payload));
  }

  /** Signs a session certificate body, and nothing else (checked: two 32-byte keys, the current time). */
  async certifySession(body: Uint8Array, now = Date.now()): Promise<Uint8Array> {
    parseCertificateBody(body, now);
    return ed25519Sign(this.identity.signingSecretKey, signedMessage('sessionKey', body));
  }

  /** Signs a workstream entry of this identity's, written now, and nothing else. */
  async signEntry(body: Uint8Array, now = Date.now()): Promise<Uint8Array> {
    assertEntryToSign(body, this.identity.signingPublicKey, now);
    return ed25519Sign(this.identity.signingSecretKey, signedMessage('workstreamEntry', body));
  }
}
