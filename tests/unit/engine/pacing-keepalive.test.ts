/**
 * What a console sends its registry is paced to the registry's limit, and a registry socket that
 * stops answering is noticed within heartbeat_ms: FramePacer and Keepalive with a manual clock.
 */
import { describe, expect, it } from 'vitest';
import { FramePacer } from '../../../src-renderer/engine/frame-pacer';
import { Keepalive } from '../../../src-renderer/engine/keepalive';
import { ManualClock } from './manual-clock';

function pacer(framesPerSecond: number, burst: number) {
  const clock = new ManualClock();
  const sent: Array<{ frame: string; at: number }> = [];
  const reports: number[] = [];
  const p = new FramePacer<string>((frame) => sent.push({ frame, at: clock.now() }), clock, (queued) => reports.push(queued));
  p.setLimits(framesPerSecond, burst);
  return { clock, sent, reports, p, start: clock.now() };
}

describe('FramePacer', () => {
  it('sends a burst at once, queues the rest in order and releases it at the registry’s rate; nothing is dropped', () => {
    const { clock, sent, p, start } = pacer(50, 200);
    for (let i = 0; i < 300; i++) p.send(`f${i}`);
    expect(sent).toHaveLength(200);
    expect(p.queued).toBe(100);
    clock.advance(1000);
    expect(sent).toHaveLength(250);
    clock.advance(1000);
    expect(sent.map((s) => s.frame)).toEqual(Array.from({ length: 300 }, (_, i) => `f${i}`));
    // Never faster than the bucket: 200 at once, then one per 20 ms.
    for (let i = 200; i < 300; i++) expect(sent[i]!.at - start).toBeGreaterThanOrEqual((i - 199) * 20);
  });

  it('says when frames wait and when none do', () => {
    const { clock, reports, p } = pacer(10, 1);
    p.send('a');
    expect(reports).toEqual([]);
    p.send('b');
    p.send('c');
    expect(reports).toEqual([1]);
    clock.advance(1000);
    expect(reports.at(-1)).toBe(0);
  });

  it('a keepalive goes before what waits', () => {
    const { clock, sent, p } = pacer(10, 1);
    p.send('a');
    p.send('b');
    p.send('c');
    p.send('ping', true);
    clock.advance(1000);
    expect(sent.map((s) => s.frame)).toEqual(['a', 'ping', 'b', 'c']);
  });

  it('after a RATE_LIMITED (drain) the next frame waits for a token', () => {
    const { clock, sent, p } = pacer(50, 200);
    p.drain();
    p.send('resent');
    expect(sent).toEqual([]);
    clock.advance(20);
    expect(sent.map((s) => s.frame)).toEqual(['resent']);
  });

  it('unpaced before the limits are known (the hello), counted once they are; a closed connection’s queue is dropped', () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    const p = new FramePacer<string>((f) => sent.push(f), clock);
    for (let i = 0; i < 5; i++) p.send(`h${i}`);
    expect(sent).toHaveLength(5);
    p.setLimits(1, 6); // the registry's bucket of 6 already paid for those 5
    p.send('x');
    p.send('y');
    p.clear();
    clock.advance(5000);
    expect(sent).toEqual(['h0', 'h1', 'h2', 'h3', 'h4', 'x']);
  });
});

function keepalive(heartbeatMs = 15_000) {
  const clock = new ManualClock();
  const events: Array<{ what: string; at: number }> = [];
  const start = clock.now();
  const k = new Keepalive({
    heartbeatMs,
    clock,
    ping: () => events.push({ what: 'ping', at: clock.now() - start }),
    dead: (silentMs) => events.push({ what: `dead after ${silentMs}`, at: clock.now() - start }),
  });
  return { clock, events, k };
}

describe('Keepalive', () => {
  it('a connection that hears frames never pings', () => {
    const { clock, events, k } = keepalive();
    for (let i = 0; i < 100; i++) {
      clock.advance(5000);
      k.heard();
    }
    expect(events).toEqual([]);
  });

  it('pings after heartbeat_ms / 2 of silence, and a pong keeps the connection', () => {
    const { clock, events, k } = keepalive();
    clock.advance(7500);
    expect(events).toEqual([{ what: 'ping', at: 7500 }]);
    clock.advance(40);
    k.heard(); // pong
    clock.advance(7499);
    expect(events).toEqual([{ what: 'ping', at: 7500 }]);
    clock.advance(1); // 7500 after the pong
    expect(events).toEqual([{ what: 'ping', at: 7500 }, { what: 'ping', at: 15_040 }]);
  });

  it('a dead socket is given up heartbeat_ms after the last frame heard', () => {
    const { clock, events, k } = keepalive();
    clock.advance(3000);
    k.heard();
    clock.advance(30_000);
    expect(events).toEqual([
      { what: 'ping', at: 10_500 },
      { what: 'dead after 15000', at: 18_000 },
    ]);
  });

  it('after a suspend (timers late), it pings first instead of declaring the socket dead', () => {
    const { clock, events, k } = keepalive();
    clock.sleep(600_000);
    clock.advance(0);
    expect(events.map((e) => e.what)).toEqual(['ping']);
    k.heard();
    clock.advance(7000);
    expect(events.map((e) => e.what)).toEqual(['ping']);
  });

  it('stops when told', () => {
    const { clock, events, k } = keepalive();
    k.stop();
    clock.advance(60_000);
    expect(events).toEqual([]);
  });
});
