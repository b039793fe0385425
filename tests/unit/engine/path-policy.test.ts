/**
 * The link's path policy on a manual clock: when it relays, when it tries direct again, when it
 * restarts ICE and when it gives a connection up (path-policy.ts). PeerLink carries the decisions
 * out; the same timings run in Chromium in tests/browser/links.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LINK_CONFIG } from '../../../src-renderer/engine/link/peer-link';
import { PathPolicy, type PathActions } from '../../../src-renderer/engine/link/path-policy';
import { ManualClock } from './manual-clock';

/** A link as the policy sees it: what it was asked to do, and when (ms since the start). */
function harness(options: { polite?: boolean; restartable?: boolean } = {}) {
  const clock = new ManualClock();
  const start = clock.now();
  const log: string[] = [];
  let channel = false;
  let relayed = false;
  let ice: RTCIceConnectionState = 'new';
  const at = () => clock.now() - start;
  const actions: PathActions = {
    hasChannel: () => channel,
    relay: (reason) => {
      if (channel || relayed) return;
      relayed = true;
      log.push(`${at()} relay: ${reason}`);
    },
    dropChannel: (reason) => {
      channel = false;
      log.push(`${at()} drop: ${reason}`);
      policy.channelLost(reason, `the DataChannel's connection failed: ${reason}`);
    },
    reconnect: (reason) => {
      log.push(`${at()} reconnect: ${reason}`);
      policy.negotiationStarted();
    },
    restartIce: (reason) => {
      log.push(`${at()} restart-ice: ${reason}`);
      return options.restartable ?? true;
    },
  };
  const policy = new PathPolicy(() => DEFAULT_LINK_CONFIG, options.polite ?? false, actions, clock);
  return {
    clock,
    policy,
    log,
    at,
    /** The DataChannel opened: the link is direct (the stream moves onto it). */
    open() {
      channel = true;
      relayed = false;
      policy.channelOpened();
    },
    ice(state: RTCIceConnectionState) {
      ice = state;
      policy.iceState(state, () => ice);
    },
    reconnects: () => log.filter((l) => l.includes('reconnect')).map((l) => Number(l.split(' ')[0])),
  };
}

describe('the path policy', () => {
  it('falls back to the relay when no DataChannel opens within fallbackAfterMs (10 s), not before', () => {
    const h = harness();
    h.policy.negotiationStarted();
    h.ice('checking');
    h.clock.advance(9_999);
    expect(h.log).toEqual([]);
    h.clock.advance(1);
    expect(h.log).toEqual(['10000 relay: no DataChannel 10000 ms after negotiation started']);
  });

  it('while relayed, retries direct with backoff (equal jitter, capped), each retry given its own fallback time; the polite side leaves it to the other', () => {
    const { baseMs, maxMs } = DEFAULT_LINK_CONFIG.directRetry;
    const { fallbackAfterMs } = DEFAULT_LINK_CONFIG;
    for (const polite of [false, true]) {
      const h = harness({ polite });
      h.policy.negotiationStarted();
      h.clock.advance(fallbackAfterMs); // relayed
      h.clock.advance(20 * maxMs);
      const times = h.reconnects();
      if (polite) {
        expect(times).toEqual([]);
        continue;
      }
      // The first retry comes after half to all of the base delay.
      expect(times[0]! - fallbackAfterMs).toBeGreaterThanOrEqual(baseMs / 2);
      expect(times[0]! - fallbackAfterMs).toBeLessThanOrEqual(baseMs);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // A retry that opens nothing counts as another attempt once its fallback time is up: never
      // sooner than half the base delay, never later than that time plus the cap.
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(baseMs / 2);
        expect(gap).toBeLessThanOrEqual(fallbackAfterMs + maxMs);
      }
      // Grown to the cap: the late retries come at least half the cap apart.
      for (const gap of gaps.slice(-5)) expect(gap).toBeGreaterThanOrEqual(maxMs / 2);
      expect(times.length).toBeLessThanOrEqual(20 * maxMs / (maxMs / 2) + 5);
    }
  });

  it('a DataChannel that opens while relayed ends the relay and the retries, and the backoff starts over', () => {
    const h = harness();
    h.policy.negotiationStarted();
    h.clock.advance(10_000);
    h.clock.advance(60_000); // a few retries: the backoff has grown
    h.open();
    const before = h.log.length;
    h.clock.advance(600_000);
    expect(h.log.length).toBe(before); // direct: no more retries, no fallback
    // It fails later: relay at once, and the first retry comes after the base delay again.
    h.ice('failed');
    expect(h.log.slice(before)).toEqual([`${h.at()} drop: ICE failed`, `${h.at()} relay: the DataChannel's connection failed: ICE failed`]);
    const failedAt = h.at();
    h.clock.advance(DEFAULT_LINK_CONFIG.directRetry.baseMs);
    expect(h.reconnects().filter((t) => t > failedAt)).toHaveLength(1);
  });

  it('restarts ICE after disconnectGraceMs of disconnected, not when it recovers in time', () => {
    const h = harness();
    h.policy.negotiationStarted();
    h.open();
    h.ice('connected');
    h.ice('disconnected');
    h.clock.advance(DEFAULT_LINK_CONFIG.disconnectGraceMs - 1);
    h.ice('connected'); // a lost packet or two
    h.clock.advance(60_000);
    expect(h.log).toEqual([]);
    h.ice('disconnected');
    h.clock.advance(DEFAULT_LINK_CONFIG.disconnectGraceMs);
    expect(h.log).toEqual([`${h.at()} restart-ice: disconnected for 2000 ms`]);
    h.ice('checking');
    h.ice('connected'); // the restart found a path: nothing more
    h.clock.advance(60_000);
    expect(h.log).toHaveLength(1);
  });

  it('an ICE restart that finds no path within fallbackAfterMs fails the connection: relay now, a new connection later', () => {
    const h = harness();
    h.policy.negotiationStarted();
    h.open();
    h.ice('connected');
    h.ice('disconnected');
    h.clock.advance(DEFAULT_LINK_CONFIG.disconnectGraceMs);
    const restartedAt = h.at();
    h.ice('checking');
    h.clock.advance(DEFAULT_LINK_CONFIG.fallbackAfterMs);
    expect(h.log).toEqual([
      `${restartedAt} restart-ice: disconnected for 2000 ms`,
      `${h.at()} drop: no path 10000 ms after an ICE restart`,
      `${h.at()} relay: the DataChannel's connection failed: no path 10000 ms after an ICE restart`,
    ]);
    h.clock.advance(DEFAULT_LINK_CONFIG.directRetry.baseMs);
    expect(h.reconnects()).toHaveLength(1);
  });

  it('a stack without ICE restarts (node-datachannel) treats a disconnect as a failure', () => {
    const h = harness({ restartable: false });
    h.policy.negotiationStarted();
    h.open();
    h.ice('disconnected');
    h.clock.advance(DEFAULT_LINK_CONFIG.disconnectGraceMs);
    expect(h.log.map((l) => l.replace(/^\d+ /, ''))).toEqual([
      'restart-ice: disconnected for 2000 ms',
      'drop: disconnected for 2000 ms, and no ICE restart on this stack',
      "relay: the DataChannel's connection failed: disconnected for 2000 ms, and no ICE restart on this stack",
    ]);
  });

  it('a connection that fails while negotiating relays at once and is made again with backoff; a failure during the backoff changes nothing', () => {
    const h = harness();
    h.policy.negotiationStarted();
    h.clock.advance(3_000);
    h.policy.failed('connection failed');
    expect(h.log).toEqual(['3000 relay: connection failed']);
    h.policy.failed('ICE failed'); // the same failure seen twice
    h.clock.advance(DEFAULT_LINK_CONFIG.directRetry.baseMs);
    expect(h.reconnects()).toHaveLength(1);
    expect(h.log[1]).toMatch(/reconnect: retry direct \(connection failed\)$/);
    // The fallback of the failed negotiation does not fire on top.
    expect(h.log.filter((l) => l.includes('relay:'))).toHaveLength(1);
  });

  it('closed, it decides nothing more', () => {
    const h = harness();
    h.policy.negotiationStarted();
    h.policy.close();
    h.clock.advance(600_000);
    h.policy.failed('ICE failed');
    expect(h.log).toEqual([]);
  });
});
