import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { createIdentity, ed25519Sign, signedMessage } from '../../../src-shared/identity';
import { certificateBody, createSession, parseCertificateBody, verifyCertificate } from '../../../src-shared/session-certificate';
import { IdentityStore } from '../../../src-main/identity-store';
import { plainFileCodec } from '../../../src-main/secret-codec';

describe('session certificates', () => {
  it('a session certified by a console verifies against its identity key, and only against it', async () => {
    const ada = await createIdentity();
    const eve = await createIdentity();
    const session = await createSession((body) => ed25519Sign(ada.signingSecretKey, signedMessage('sessionKey', body)));
    expect(await verifyCertificate(session.certificate, ada.signingPublicKey)).toBe(true);
    expect(await verifyCertificate(session.certificate, eve.signingPublicKey)).toBe(false);
  });

  it('substituting the relay key, the signaling key or the start time breaks the certificate', async () => {
    const ada = await createIdentity();
    const { certificate } = await createSession((body) => ed25519Sign(ada.signingSecretKey, signedMessage('sessionKey', body)));
    const other = crypto.getRandomValues(new Uint8Array(32));
    for (const forged of [{ ...certificate, boxKey: other }, { ...certificate, signKey: other }, { ...certificate, startedAt: certificate.startedAt + 1 }]) {
      expect(await verifyCertificate(forged, ada.signingPublicKey)).toBe(false);
    }
  });

  it('the host certifies only a well-formed body made now', () => {
    const now = Date.now();
    const key = new Uint8Array(32);
    expect(parseCertificateBody(certificateBody(key, key, now), now).startedAt).toBe(now);
    expect(() => parseCertificateBody(encode([1, key, key, now - 10 * 60_000]), now)).toThrow(/start time/);
    // Signer and asker read one machine's clock: a start time ahead of it is refused, so a
    // compromised renderer cannot pre-date a session that makes the real console's next one look old.
    expect(parseCertificateBody(certificateBody(key, key, now + 1_000), now).startedAt).toBe(now + 1_000);
    for (const ahead of [5_000, 30_000, 4 * 60_000]) expect(() => parseCertificateBody(certificateBody(key, key, now + ahead), now)).toThrow(/start time/);
    expect(() => parseCertificateBody(encode([1, new Uint8Array(31), key, now]), now)).toThrow(/32 bytes/);
    expect(() => parseCertificateBody(encode('sign this offer for me'), now)).toThrow(/not a session certificate/);
    expect(() => parseCertificateBody(new Uint8Array(32), now)).toThrow();
  });

  it('main’s identity store signs session certificates and refuses to sign anything else', async () => {
    const store = await IdentityStore.open(mkdtempSync(join(tmpdir(), 'wsp-cert-')), plainFileCodec);
    const info = store.info();
    const session = await createSession((body) => store.certifySession(body));
    expect(await verifyCertificate(session.certificate, info.signingPublicKey)).toBe(true);
    await expect(store.certifySession(new TextEncoder().encode('a registry challenge in disguise'))).rejects.toThrow();
    const key = new Uint8Array(32);
    await expect(store.certifySession(certificateBody(key, key, Date.now() + 60_000))).rejects.toThrow(/start time/);
  });
});
