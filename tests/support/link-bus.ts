/**
 * Test doubles of the links as applications see them (LinkBus): channels routed as LinkManager
 * routes them (the same ChannelRouter), events fired by the test, sending left to the subclass.
 * And `testChannel`, the one channel tests use to send their own messages over real links.
 */
import { ChannelRouter, type Channel, type ChannelSpec, type LinkBus } from '../../src-renderer/engine/channels';
import { Emitter } from '../../src-renderer/engine/emitter';
import { z } from '../../src-shared/zod';

type BusEvents = { open: { peerId: string }; closed: { peerId: string }; reset: { peerId: string }; held: { peerId: string } };

export abstract class RoutedBus extends Emitter<BusEvents> implements LinkBus {
  private readonly router = new ChannelRouter();

  abstract send(peerId: string, message: unknown): Promise<void>;

  channel<M extends { t: string }>(spec: ChannelSpec<M>): Channel<M> {
    const close = this.router.register(spec);
    return { send: (peerId, message) => this.send(peerId, message), close };
  }

  /** A message from `from`, handed to its channel. */
  deliver(from: string, message: unknown): void {
    this.router.dispatch(from, message);
  }

  fire(event: keyof BusEvents, peerId: string): void {
    this.emit(event, { peerId });
  }
}

/** Tests' own messages on real links: `{ t: 'test', ... }` with anything beside. */
export const TEST_MESSAGE = 'test';
const testMessageSchema = z.looseObject({ t: z.literal(TEST_MESSAGE) });
export type TestMessage = z.infer<typeof testMessageSchema>;

/** Registers the tests' channel on a LinkManager (or any LinkBus); `send` wraps a message in it. */
export function testChannel(links: LinkBus, handle: (peerId: string, message: Record<string, unknown>) => void): { send(peerId: string, message: Record<string, unknown>): Promise<void>; close(): void } {
  const channel = links.channel<TestMessage>({ name: 'test', types: [TEST_MESSAGE], schema: testMessageSchema, handle: (peerId, message) => handle(peerId, message) });
  return { send: (peerId, message) => channel.send(peerId, { ...message, t: TEST_MESSAGE }), close: () => channel.close() };
}
