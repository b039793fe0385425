/**
 * What the console needs from the browser it runs in, checked once at startup: a browser that
 * lacks one of these would otherwise join the registry and then never link, or fail on the first
 * message, without saying why. Ed25519, X25519 and SHA-256 are not here: without WebCrypto (a page
 * over plain http from another machine) the console uses its JavaScript fallbacks.
 */
export function missingBrowserFeatures(): string[] {
  const missing: string[] = [];
  if (typeof WebSocket !== 'function') missing.push('WebSocket');
  if (typeof indexedDB === 'undefined') missing.push('IndexedDB');
  if (typeof globalThis.crypto?.getRandomValues !== 'function') missing.push('crypto.getRandomValues');
  if (typeof RTCPeerConnection !== 'function') missing.push('RTCPeerConnection');
  else missing.push(...missingDataChannelFeatures());
  return missing;
}

/** Both sides create the link's channel pre-negotiated (id 0), and flow control waits on bufferedamountlow. */
function missingDataChannelFeatures(): string[] {
  let pc: RTCPeerConnection | undefined;
  try {
    pc = new RTCPeerConnection();
    if (typeof pc.createDataChannel !== 'function') return ['RTCDataChannel'];
    const channel = pc.createDataChannel('probe', { negotiated: true, id: 0, ordered: true });
    const missing: string[] = [];
    if (channel.negotiated !== true || channel.id !== 0) missing.push('RTCDataChannel negotiated channels');
    if (!('bufferedAmountLowThreshold' in channel) || !('onbufferedamountlow' in channel)) missing.push('RTCDataChannel bufferedAmountLowThreshold');
    return missing;
  } catch (error) {
    return [`RTCDataChannel (${(error as Error).message})`];
  } finally {
    pc?.close();
  }
}

/** The message a user sees instead of the console, naming what is missing. */
export function unsupportedBrowserMessage(missing: string[]): string {
  return `This browser cannot run the WSP Console: it lacks ${missing.join(', ')}. Use a current Chromium, Chrome, Edge or Firefox, or the desktop app.`;
}
