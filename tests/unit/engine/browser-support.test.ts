import { afterEach, describe, expect, it, vi } from 'vitest';
import { missingBrowserFeatures, unsupportedBrowserMessage } from '../../../src-renderer/engine/browser-support';

/** A browser's WebRTC, as much of it as the check looks at; `channel` says what its DataChannel does. */
function stubBrowser(channel: (init: RTCDataChannelInit) => object) {
  const closed: boolean[] = [];
  vi.stubGlobal('WebSocket', function WebSocket() {});
  vi.stubGlobal('indexedDB', {});
  vi.stubGlobal(
    'RTCPeerConnection',
    class {
      createDataChannel(_label: string, init: RTCDataChannelInit) {
        return channel(init);
      }
      close() {
        closed.push(true);
      }
    },
  );
  return closed;
}

const fullChannel = (init: RTCDataChannelInit) => ({ negotiated: init.negotiated, id: init.id, bufferedAmountLowThreshold: 0, onbufferedamountlow: null });

describe('missingBrowserFeatures', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('finds nothing missing in a browser with everything, and closes its probe connection', () => {
    const closed = stubBrowser(fullChannel);
    expect(missingBrowserFeatures()).toEqual([]);
    expect(closed).toEqual([true]);
  });

  it('names each missing part', () => {
    stubBrowser(() => ({ negotiated: false, id: null }));
    expect(missingBrowserFeatures()).toEqual(['RTCDataChannel negotiated channels', 'RTCDataChannel bufferedAmountLowThreshold']);
    vi.stubGlobal('RTCPeerConnection', undefined);
    vi.stubGlobal('indexedDB', undefined);
    expect(missingBrowserFeatures()).toEqual(['IndexedDB', 'RTCPeerConnection']);
  });

  it('reports a DataChannel the browser refuses to create, with its reason', () => {
    const closed = stubBrowser(() => {
      throw new Error('negotiated channels are not supported');
    });
    expect(missingBrowserFeatures()).toEqual(['RTCDataChannel (negotiated channels are not supported)']);
    expect(closed).toEqual([true]);
  });

  it('says what is missing and what to use instead', () => {
    expect(unsupportedBrowserMessage(['RTCPeerConnection', 'IndexedDB'])).toBe(
      'This browser cannot run the WSP Console: it lacks RTCPeerConnection, IndexedDB. Use a current Chromium, Chrome, Edge or Firefox, or the desktop app.',
    );
  });
});
