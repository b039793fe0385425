import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { iceServersFor, mintTurnCredential } from '../../../src-main/registry/turn-credentials';

const PEER = 'k3v9x2m4p7q8r5s6t1u0w2y3z4';
const SECRET = 'north-wind-shared-secret';
const STUN = ['stun:stun.example.org:3478'];
const TURN_URLS = ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'];
const NOW = 1_750_000_123_456;

/** coturn's `use-auth-secret` password: base64(HMAC-SHA1(secret, username)). */
const coturnPassword = (secret: string, username: string) => createHmac('sha1', secret).update(username, 'utf8').digest('base64');

describe('mintTurnCredential', () => {
  it('follows the coturn REST scheme', () => {
    const { username, credential } = mintTurnCredential(SECRET, PEER, 1_750_003_723);
    expect(username).toBe(`1750003723:${PEER}`);
    expect(credential).toBe(coturnPassword(SECRET, `1750003723:${PEER}`));
    // A SHA-1 digest is 20 bytes: 28 base64 characters with one '=' of padding.
    expect(credential).toMatch(/^[A-Za-z0-9+/]{27}=$/);
  });

  it('matches a known HMAC-SHA1 vector (RFC 2202 test case 2)', () => {
    // HMAC-SHA1("Jefe", "what do ya want for nothing?") = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79
    const expected = Buffer.from('effcdf6ae5eb2fa2d27416d5f184df9c259a7c79', 'hex').toString('base64');
    expect(createHmac('sha1', 'Jefe').update('what do ya want for nothing?').digest('base64')).toBe(expected);
    // The credential for a username is the HMAC of exactly that username.
    expect(mintTurnCredential('Jefe', 'x', 1).credential).toBe(coturnPassword('Jefe', '1:x'));
  });

  it('differs with the secret, the peer and the expiry', () => {
    const base = mintTurnCredential(SECRET, PEER, 100).credential;
    expect(mintTurnCredential('other-secret', PEER, 100).credential).not.toBe(base);
    expect(mintTurnCredential(SECRET, 'z'.repeat(26), 100).credential).not.toBe(base);
    expect(mintTurnCredential(SECRET, PEER, 101).credential).not.toBe(base);
    expect(mintTurnCredential(SECRET, PEER, 100).credential).toBe(base);
  });
});

describe('iceServersFor', () => {
  it('nothing configured: no servers and no expiry', () => {
    expect(iceServersFor(PEER, [], undefined, NOW)).toEqual({ servers: [], expiresAt: 0 });
    expect(iceServersFor(PEER, [], { urls: [], secret: SECRET }, NOW)).toEqual({ servers: [], expiresAt: 0 });
  });

  it('only STUN configured: STUN without credentials, no expiry', () => {
    const result = iceServersFor(PEER, STUN, undefined, NOW);
    expect(result).toEqual({ servers: [{ urls: STUN }], expiresAt: 0 });
    expect(result.servers[0]).not.toHaveProperty('username');
    expect(result.servers[0]).not.toHaveProperty('credential');
    // TURN with no URLs is the same as no TURN.
    expect(iceServersFor(PEER, STUN, { urls: [], secret: SECRET }, NOW)).toEqual({ servers: [{ urls: STUN }], expiresAt: 0 });
  });

  it('STUN and TURN: the TURN entry has a credential for this peer, valid for an hour by default', () => {
    const { servers, expiresAt } = iceServersFor(PEER, STUN, { urls: TURN_URLS, secret: SECRET }, NOW);
    const expiry = Math.floor(NOW / 1000) + 3600;
    expect(servers).toEqual([
      { urls: STUN },
      { urls: TURN_URLS, username: `${expiry}:${PEER}`, credential: coturnPassword(SECRET, `${expiry}:${PEER}`) },
    ]);
    expect(expiresAt).toBe(expiry * 1000);
    expect(expiresAt - NOW).toBeGreaterThan(3599 * 1000);
    expect(expiresAt - NOW).toBeLessThanOrEqual(3600 * 1000);
  });

  it('honours ttlSeconds', () => {
    const { servers, expiresAt } = iceServersFor(PEER, STUN, { urls: TURN_URLS, secret: SECRET, ttlSeconds: 120 }, NOW);
    const expiry = Math.floor(NOW / 1000) + 120;
    expect(servers[1]).toEqual({ urls: TURN_URLS, username: `${expiry}:${PEER}`, credential: coturnPassword(SECRET, `${expiry}:${PEER}`) });
    expect(expiresAt).toBe(expiry * 1000);
  });

  it('TURN without STUN: just the TURN entry', () => {
    const { servers, expiresAt } = iceServersFor(PEER, [], { urls: TURN_URLS, secret: SECRET }, NOW);
    expect(servers.length).toBe(1);
    expect(servers[0]!.urls).toEqual(TURN_URLS);
    expect(servers[0]!.username).toBe(`${Math.floor(NOW / 1000) + 3600}:${PEER}`);
    expect(expiresAt).toBe((Math.floor(NOW / 1000) + 3600) * 1000);
  });

  it('each peer gets its own credential', () => {
    const ada = iceServersFor('a'.repeat(26), [], { urls: TURN_URLS, secret: SECRET }, NOW).servers[0]!;
    const bob = iceServersFor('b'.repeat(26), [], { urls: TURN_URLS, secret: SECRET }, NOW).servers[0]!;
    expect(ada.username).not.toBe(bob.username);
    expect(ada.credential).not.toBe(bob.credential);
  });
});
