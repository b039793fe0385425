/**
 * Time-limited TURN credentials in the coturn REST scheme (`use-auth-secret`): the registry and
 * coturn share a secret; username = "<expiry unix seconds>:<peer_id>", password =
 * base64(HMAC-SHA1(secret, username)). coturn refuses the credential after its expiry.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../../src-shared/protocol/signaling';

export interface TurnOptions {
  urls: string[];
  secret: string;
  /** Credential lifetime; consoles get fresh ones at half-life. Default 1 hour. */
  ttlSeconds?: number;
}

export function mintTurnCredential(secret: string, peerId: string, expiresAtSeconds: number): { username: string; credential: string } {
  const username = `${expiresAtSeconds}:${peerId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The ICE servers for one console: STUN as configured, TURN with its own credential. */
export function iceServersFor(peerId: string, stunUrls: string[], turn: TurnOptions | undefined, nowMs: number): { servers: IceServer[]; expiresAt: number } {
  const servers: IceServer[] = stunUrls.length ? [{ urls: stunUrls }] : [];
  if (!turn || turn.urls.length === 0) return { servers, expiresAt: 0 };
  const expiresAtSeconds = Math.floor(nowMs / 1000) + (turn.ttlSeconds ?? 3600);
  servers.push({ urls: turn.urls, ...mintTurnCredential(turn.secret, peerId, expiresAtSeconds) });
  return { servers, expiresAt: expiresAtSeconds * 1000 };
}
