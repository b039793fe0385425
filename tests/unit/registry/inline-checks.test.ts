/**
 * The registry checks a hello's invite and signatures inline (invites.ts check,
 * ed25519-inline.ts): these must accept exactly what the WebCrypto checks they replaced accepted
 * (jose's jwtVerify with the registry's options; the shared ed25519Verify).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { ed25519 } from '@noble/curves/ed25519.js';
import { InviteAuthority } from '../../../src-main/registry/invites';
import { ed25519VerifyInline } from '../../../src-main/registry/ed25519-inline';
import { createIdentity, ed25519Sign, ed25519Verify, signedMessage } from '../../../src-shared/identity';
import { toBase64Url, utf8 } from '../../../src-shared/bytes';

const NOW = 1_700_000_000_000;
const SECRET = new Uint8Array(32).fill(42);
const authority = new InviteAuthority(SECRET, undefined, () => NOW);
const nowSeconds = NOW / 1000;

/** What the registry answered before, with jose: ok, or the code jwtVerify's error mapped to. */
async function joseVerdict(token: string): Promise<string> {
  try {
    await jwtVerify(token, SECRET, { audience: 'wsp-registry', algorithms: ['HS256'], currentDate: new Date(NOW), clockTolerance: 0, requiredClaims: ['exp'] });
    return 'ok';
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return 'INVITE_EXPIRED';
    return 'INVITE_INVALID';
  }
}

const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }, secret = SECRET) =>
  new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
/** Signed by hand: jose refuses to make some of the odd ones. */
const byHand = (header: Record<string, unknown>, claims: Record<string, unknown>) => {
  const input = `${toBase64Url(utf8.encode(JSON.stringify(header)))}.${toBase64Url(utf8.encode(JSON.stringify(claims)))}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
};
const valid = { project: 'team', jti: 'id-1', aud: 'wsp-registry', iat: nowSeconds, exp: nowSeconds + 60 };

describe('the inline invite check', () => {
  it('gives the verdict jose gave, for good, expired, foreign, tampered and odd tokens', async () => {
    const good = await sign(valid);
    const [h, p, s] = good.split('.') as [string, string, string];
    const tokens = [
      good,
      await sign({ ...valid, aud: ['other', 'wsp-registry'] }),
      await sign({ ...valid, max_uses: 3 }),
      await sign({ ...valid, exp: nowSeconds }), // expires this second
      await sign({ ...valid, exp: nowSeconds - 1 }),
      await sign({ ...valid, exp: String(nowSeconds + 60) }),
      await sign({ project: 'team', jti: 'id-1', aud: 'wsp-registry' }), // no exp
      await sign({ ...valid, aud: 'someone-else' }),
      await sign({ ...valid, aud: undefined }),
      await sign({ ...valid, nbf: nowSeconds + 10 }),
      await sign({ ...valid, nbf: nowSeconds }),
      await sign({ ...valid, iat: 'yesterday' }),
      await sign(valid, undefined, new Uint8Array(32).fill(7)), // another registry's secret
      byHand({ alg: 'HS256', crit: ['exp'] }, valid),
      byHand({ alg: 'HS256', b64: false, crit: ['b64'] }, valid),
      byHand({ alg: 'HS256' }, valid),
      byHand({ alg: 'hs256' }, valid),
      byHand({}, valid),
      await sign(valid, { alg: 'HS512' }, new Uint8Array(64).fill(42)),
      `${toBase64Url(utf8.encode(JSON.stringify({ alg: 'none' })))}.${p}.`,
      `${h}.${toBase64Url(utf8.encode(JSON.stringify({ ...valid, project: 'other' })))}.${s}`,
      `${h}.${p}.${s.slice(0, -1)}`,
      `${h}.${p}.${s}.x`,
      `${h}.${p}`,
      'not a token',
    ];
    for (const token of tokens) {
      const inline = authority.check(token);
      expect({ token, verdict: inline.ok ? 'ok' : inline.code }).toEqual({ token, verdict: await joseVerdict(token) });
    }
  });

  it('is stricter in one way: a padded signature (base64url has none; jose tolerates it) is refused', async () => {
    const good = await sign(valid);
    expect(await joseVerdict(`${good}=`)).toBe('ok');
    expect(authority.check(`${good}=`)).toMatchObject({ ok: false, code: 'INVITE_INVALID' });
  });

  it('reads the claims of a good invite', async () => {
    expect(authority.check(await sign({ ...valid, max_uses: 3 }))).toEqual({ ok: true, project: 'team', inviteId: 'id-1', maxUses: 3 });
    expect(authority.check(await sign({ ...valid, exp: nowSeconds - 1 }))).toMatchObject({ ok: false, code: 'INVITE_EXPIRED' });
  });
});

describe('the inline Ed25519 check', () => {
  it('accepts and refuses what WebCrypto does', async () => {
    const identity = await createIdentity();
    const message = signedMessage('registryAuth', new Uint8Array(32).fill(1));
    const signature = await ed25519Sign(identity.signingSecretKey, message);
    const flipped = signature.slice();
    flipped[5]! ^= 1;
    // S + L: the same signature, not canonical (RFC 8032 says refuse it).
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
    const nonCanonical = signature.slice();
    let bigger = s + L;
    for (let i = 0; i < 32; i++, bigger >>= 8n) nonCanonical[32 + i] = Number(bigger & 0xffn);
    const smallOrderKey = new Uint8Array(32); // the identity point's encoding is 0x01 then zeros
    smallOrderKey[0] = 1;
    const notAPoint = new Uint8Array(32).fill(0xff);
    const cases: Array<[Uint8Array, Uint8Array, Uint8Array]> = [
      [identity.signingPublicKey, message, signature],
      [identity.signingPublicKey, signedMessage('boxKey', new Uint8Array(32).fill(1)), signature],
      [identity.signingPublicKey, message, flipped],
      [identity.signingPublicKey, message, nonCanonical],
      [smallOrderKey, message, signature],
      [notAPoint, message, signature],
      [identity.signingPublicKey.subarray(0, 31), message, signature],
      [identity.signingPublicKey, message, signature.subarray(0, 63)],
      [ed25519.getPublicKey(new Uint8Array(32).fill(3)), message, ed25519.sign(message, new Uint8Array(32).fill(3))],
    ];
    const verdicts = cases.map(([key, m, sig]) => ed25519VerifyInline(key, m, sig));
    expect(verdicts).toEqual(await Promise.all(cases.map(([key, m, sig]) => ed25519Verify(key, m, sig))));
    expect(verdicts).toEqual([true, false, false, false, false, false, false, false, true]);
  });
});
