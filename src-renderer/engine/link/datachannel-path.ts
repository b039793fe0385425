/**
 * A StreamPath over an RTCDataChannel. A stream frame that fits the negotiated maxMessageSize
 * (16 KiB when the stack does not say) is sent as it is, without a copy; a larger one is cut into
 * fragments, each prefixed with one byte (1 = more follow, 0 = last). The two are told apart by the
 * first byte: a stream frame is a MessagePack array (0x90–0x9f), never 0 or 1. The channel is
 * reliable and ordered, so reassembly is a simple concatenation. Sending stops while bufferedAmount is at or above the high-water mark and
 * resumes on `bufferedamountlow`, so memory stays bounded however much the caller sends.
 */
import { concatBytes } from '../../../src-shared/bytes';
import type { StreamPath } from './reliable-stream';

export const DATACHANNEL_PATH_ID = 'datachannel';
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024;
/** Stop queueing above this many buffered bytes; Chromium's send() throws at 16 MiB. */
export const HIGH_WATER_BYTES = 1024 * 1024;
export const LOW_WATER_BYTES = 256 * 1024;

export class DataChannelPath implements StreamPath {
  readonly id = DATACHANNEL_PATH_ID;
  readonly maxFrameBytes = 1024 * 1024;
  private readonly fragmentBytes: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(readonly channel: RTCDataChannel, maxMessageSize: number | undefined, private readonly maxReassembledBytes: number) {
    this.fragmentBytes = (maxMessageSize && maxMessageSize > 1 ? Math.min(maxMessageSize, 256 * 1024) : DEFAULT_MAX_MESSAGE_SIZE) - 1;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER_BYTES;
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  canSend(): boolean {
    return this.channel.readyState === 'open' && this.channel.bufferedAmount < HIGH_WATER_BYTES;
  }

  send(frame: Uint8Array): void {
    if (frame.length <= this.fragmentBytes + 1 && frame.length > 0 && frame[0]! > 1) {
      this.channel.send(frame as Uint8Array<ArrayBuffer>);
      return;
    }
    for (let offset = 0; offset < frame.length || offset === 0; offset += this.fragmentBytes) {
      const end = Math.min(frame.length, offset + this.fragmentBytes);
      const fragment = new Uint8Array(end - offset + 1);
      fragment[0] = end < frame.length ? 1 : 0;
      fragment.set(frame.subarray(offset, end), 1);
      this.channel.send(fragment);
      if (end >= frame.length) break;
    }
  }

  /** Feeds one DataChannel message; returns a whole stream frame when one is complete. */
  receive(data: ArrayBuffer): Uint8Array | { error: string } | undefined {
    const bytes = new Uint8Array(data);
    if (bytes.length > 0 && bytes[0]! > 1 && this.pending.length === 0) return bytes; // a whole frame
    if (bytes.length === 0 || bytes[0]! > 1) {
      this.pending = [];
      this.pendingBytes = 0;
      return { error: 'DataChannel message without a valid fragment header' };
    }
    this.pendingBytes += bytes.length - 1;
    if (this.pendingBytes > this.maxReassembledBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      return { error: `DataChannel frame exceeds ${this.maxReassembledBytes} bytes` };
    }
    this.pending.push(bytes.subarray(1));
    if (bytes[0] === 1) return undefined;
    const frame = this.pending.length === 1 ? this.pending[0]! : concatBytes(...this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return frame;
  }
}
