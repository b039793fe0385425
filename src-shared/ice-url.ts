/**
 * STUN and TURN server addresses as browsers take them (RFC 7064, RFC 7065): `stun:` or `stuns:`
 * host and port; `turn:` or `turns:` host, port and `?transport=udp|tcp`. One wrong address makes
 * `new RTCPeerConnection` throw for every link, so addresses are checked where they come in (the
 * registry's options, the console's settings, what a registry sends) and refused with a reason.
 */

const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)`;
const PORT = String.raw`(?::(\d{1,5}))?`;
const STUN_URL = new RegExp(`^stuns?:${HOST}${PORT}$`);
const TURN_URL = new RegExp(`^turns?:${HOST}${PORT}(?:\\?transport=(?:udp|tcp))?$`);

export type IceUrlKind = 'stun' | 'turn';

/** Why `url` is not a STUN or TURN address a browser takes (of `kind`, if given), or undefined if it is one. */
export function iceUrlProblem(url: string, kind?: IceUrlKind): string | undefined {
  const scheme = /^([a-z]+):/.exec(url)?.[1];
  const isStun = scheme === 'stun' || scheme === 'stuns';
  const isTurn = scheme === 'turn' || scheme === 'turns';
  if ((!isStun && !isTurn) || (kind === 'stun' && !isStun) || (kind === 'turn' && !isTurn)) {
    const expected = kind === 'stun' ? 'stun: or stuns:' : kind === 'turn' ? 'turn: or turns:' : 'stun:, stuns:, turn: or turns:';
    return `“${url}” does not start with ${expected}`;
  }
  const match = (isStun ? STUN_URL : TURN_URL).exec(url);
  if (!match) return isStun ? `“${url}” is not stun:HOST[:PORT]` : `“${url}” is not turn:HOST[:PORT][?transport=udp|tcp]`;
  const port = match[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return `“${url}”: the port must be 1–65535`;
  return undefined;
}

/** Why a browser would refuse this ICE server (an address above, or TURN without its user name and password), or undefined. */
export function iceServerProblem(server: { urls: string | readonly string[]; username?: string; credential?: string }): string | undefined {
  const urls = typeof server.urls === 'string' ? [server.urls] : server.urls;
  if (urls.length === 0) return 'an ICE server needs an address';
  for (const url of urls) {
    const problem = iceUrlProblem(url);
    if (problem) return problem;
  }
  if (urls.some((url) => /^turns?:/.test(url)) && (!server.username || !server.credential)) return `a TURN server (${urls[0]}) needs a user name and a password`;
  return undefined;
}
