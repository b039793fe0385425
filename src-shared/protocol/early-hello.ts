/**
 * The early hello: a console's hello carried in its WebSocket upgrade request, so that the
 * registry can welcome it in the same turn as the upgrade — one registry turn per admission, where
 * challenge → hello → welcome takes two (docs/PROTOCOL.md §3).
 *
 * A browser's WebSocket can set nothing on the upgrade but the URL and the subprotocols; a URL
 * ends up in proxies' access logs, so the hello rides in `Sec-WebSocket-Protocol`, as a second
 * offered subprotocol `wsp-hello.<base64url(MessagePack)>` after the plain `wsp` the registry
 * selects. With no challenge to sign, the console signs its own clock's time and fresh random
 * bytes, under a signature context of their own (`registryHello`: a signature over a registry's
 * challenge is never one over an early hello, so a host that signs challenges on request cannot be
 * made to sign early hellos for later); the registry accepts the time only within
 * EARLY_HELLO_WINDOW_MS of its own, and each hello only once (it remembers those it accepted for
 * twice the window). An early hello the registry does not take for freshness (a skewed clock, a
 * hello seen before, a registry that predates it) costs one turn and nothing else: the registry
 * sends its challenge as always and the console answers it with an ordinary hello.
 */
import { concatBytes, fromBase64Url, toBase64Url } from '../bytes';
import { decodeEarlyHelloFrame, encodeFrame, type DecodeResult } from './codec';
import type { EarlyHelloFrame } from './signaling';

/** The subprotocol a registry selects; a console offers it first (a registry that predates early hellos selects the first offered, as `ws` does). */
export const SIGNALING_SUBPROTOCOL = 'wsp';
export const EARLY_HELLO_PREFIX = 'wsp-hello.';
/** How far an early hello's `early_at` may be from the registry's clock, either way. */
export const EARLY_HELLO_WINDOW_MS = 30_000;
/**
 * Longest early-hello subprotocol a console offers. Proxies commonly allow 8 KiB per header line;
 * a hello that does not fit (a very long invite) goes the ordinary way, after the challenge.
 */
export const MAX_EARLY_HELLO_CHARS = 6000;

/** How far from its own clock a desktop app's main process signs an early hello's time. */
export const EARLY_HELLO_SIGNING_SLACK_MS = 2_000;

/**
 * What an early hello's `nonce_sig` signs, as signedMessage('registryHello', payload): `at` (ms
 * since epoch, 8 bytes big-endian) ‖ the 16-byte salt.
 */
export function earlyHelloPayload(at: number, salt: Uint8Array): Uint8Array {
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(at));
  return concatBytes(time, salt);
}

/** The time an early-hello payload states; throws if it is not one (24 bytes). */
export function earlyHelloTime(payload: Uint8Array): number {
  if (payload.length !== 24) throw new Error('an early hello payload is 24 bytes: its time and a 16-byte salt');
  return Number(new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0));
}

/** The subprotocols to offer for `hello`: `wsp` first, then the early hello if it fits. */
export function earlyHelloProtocols(hello: EarlyHelloFrame): string[] {
  const early = EARLY_HELLO_PREFIX + toBase64Url(encodeFrame(hello));
  return early.length <= MAX_EARLY_HELLO_CHARS ? [SIGNALING_SUBPROTOCOL, early] : [SIGNALING_SUBPROTOCOL];
}

/**
 * The early hello in an upgrade's `Sec-WebSocket-Protocol` header: undefined if there is none, else
 * the decoded hello or why it is not one (a coded error, as for any malformed frame).
 */
export function readEarlyHello(header: string | undefined): DecodeResult<EarlyHelloFrame> | undefined {
  const offered = (header ?? '').split(',').map((p) => p.trim());
  const early = offered.find((p) => p.startsWith(EARLY_HELLO_PREFIX));
  if (early === undefined) return undefined;
  const text = early.slice(EARLY_HELLO_PREFIX.length);
  if (text.length > MAX_EARLY_HELLO_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) {
    return { ok: false, code: 'BAD_FRAME', message: `the early hello is not base64url of at most ${MAX_EARLY_HELLO_CHARS} characters` };
  }
  return decodeEarlyHelloFrame(fromBase64Url(text));
}
