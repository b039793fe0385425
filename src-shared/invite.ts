/**
 * Invites as users see them: a link `http(s)://registry-host:port/#invite=<JWT>`. Opening it in a
 * browser starts the web console with the invite filled in; pasting it into a desktop console
 * tells that console both where the registry is and which project to join.
 * Only the registry can verify the JWT; here we read its claims for display.
 */
import { fromBase64Url, utf8 } from './bytes';
import { SIGNALING_PATH } from './protocol/signaling';

export interface InviteClaims {
  /** The token's `jti`: which invite of its registry this is. */
  id?: string;
  project: string;
  expiresAt: number; // ms since epoch
  maxUses?: number;
}

export interface ParsedInvite {
  token: string;
  /** The registry's WebSocket URL, from the link. */
  registryUrl: string;
  /** The same, then the other instances sharing its project space (`alt=`), to fail over to. */
  registryUrls: string[];
  claims: InviteClaims;
}

/** An invite as its registry's operator sees it (never the token: that is a bearer credential). */
export interface InviteSummary {
  /** The token's `jti`. */
  id: string;
  project: string;
  issuedAt: number; // ms since epoch
  expiresAt: number; // ms since epoch
  maxUses?: number;
  /** Distinct consoles admitted with it (counted only when it has a use limit). */
  uses: number;
  revoked: boolean;
}

export class InviteError extends Error {}

/**
 * Other instances an invite may name (`alt=`). A registry of a few instances needs a few; each
 * is an origin the desktop window's CSP lets the page connect to (src-main/security.ts).
 */
export const MAX_ALTERNATES = 8;

/** The link for an invite; `alternates` are other instances of the same registry (failover). */
export function formatInviteLink(httpOrigin: string, token: string, alternates: string[] = []): string {
  const alt = alternates.length ? `&alt=${alternates.map((a) => encodeURIComponent(a.replace(/\/+$/, ''))).join(',')}` : '';
  return `${httpOrigin.replace(/\/+$/, '')}/#invite=${token}${alt}`;
}

/** ws(s)://host:port/ws for an http(s)://host:port origin. */
export function signalingUrlFor(httpOrigin: string): string {
  const url = new URL(httpOrigin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = SIGNALING_PATH;
  url.hash = '';
  url.search = '';
  return url.toString();
}

export function readInviteClaims(token: string): InviteClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new InviteError('this is not an invite (expected a signed token)');
  let payload: unknown;
  try {
    payload = JSON.parse(utf8.decode(fromBase64Url(parts[1]!)));
  } catch {
    throw new InviteError('this invite is damaged (its contents cannot be read)');
  }
  if (typeof payload !== 'object' || payload === null) throw new InviteError('this invite is damaged (its contents cannot be read)');
  return claimsOf(payload as Record<string, unknown>);
}

function claimsOf(payload: Record<string, unknown>): InviteClaims {
  if (typeof payload.project !== 'string' || typeof payload.exp !== 'number') {
    throw new InviteError('this invite names no project or expiry');
  }
  return {
    ...(typeof payload.jti === 'string' ? { id: payload.jti } : {}),
    project: payload.project,
    expiresAt: payload.exp * 1000,
    ...(typeof payload.max_uses === 'number' ? { maxUses: payload.max_uses } : {}),
  };
}

/** Accepts the invite link a registry prints. Throws InviteError with a user-facing message. */
export function parseInvite(text: string): ParsedInvite {
  const trimmed = text.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new InviteError('paste the whole invite link (it starts with http:// or https://)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InviteError('an invite link starts with http:// or https://');
  }
  const params = new URLSearchParams(url.hash.slice(1));
  const token = params.get('invite');
  if (!token) throw new InviteError('this link carries no invite (#invite=… is missing)');
  const registryUrl = signalingUrlFor(url.origin);
  const alternates = (params.get('alt') ?? '')
    .split(',')
    .filter(Boolean)
    .flatMap((a) => {
      try {
        const u = new URL(decodeURIComponent(a));
        return u.protocol === 'http:' || u.protocol === 'https:' ? [signalingUrlFor(u.origin)] : [];
      } catch {
        return [];
      }
    });
  if (new Set(alternates).size > MAX_ALTERNATES) throw new InviteError(`this invite names more than ${MAX_ALTERNATES} other registry instances`);
  return { token, registryUrl, registryUrls: [...new Set([registryUrl, ...alternates])], claims: readInviteClaims(token) };
}
