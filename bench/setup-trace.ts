/**
 * BENCH_SETUP_TRACE=1 in bench/peerjs.bench.ts: each setup's WebRTC timeline on both sides
 * (tests/support/rtc-trace.ts), ours cold and warm and PeerJS's, and at the end the median of every
 * step in ms from the start (ours: the peer known; PeerJS: connect()), side by side — to see which
 * phase of a link's setup takes longer in which system.
 */
import type { TraceEvent } from '../tests/support/rtc-trace';
import { percentile } from './stats';

export const SETUP_TRACE = process.env.BENCH_SETUP_TRACE === '1';

type Kind = 'cold' | 'warm' | 'peerjs';
/** Per kind, per step ("O " offerer / "A " answerer, then the event): ms from the start, one per setup. */
const steps: Record<Kind, Map<string, number[]>> = { cold: new Map(), warm: new Map(), peerjs: new Map() };
const stats: Partial<Record<Kind, unknown>> = {};

/** PeerJS's and our signaling under one name. */
function normalize(ev: string): string {
  return ev
    .replace(/\.(webrtc_offer|OFFER)$/, '.offer')
    .replace(/\.(webrtc_answer|ANSWER)$/, '.answer')
    .replace(/\.(webrtc_ice_candidate|CANDIDATE)$/, '.cand');
}

/** One setup's events from the offering and the answering page. */
export function recordSetupTrace(kind: Kind, offerer: TraceEvent[], answerer: TraceEvent[], transportStats?: unknown): void {
  if (transportStats && !stats[kind]) stats[kind] = transportStats;
  const start = Math.min(...[...offerer, ...answerer].filter((e) => e.ev === 'start').map((e) => e.t));
  if (!Number.isFinite(start)) return;
  for (const [side, events] of [['O', offerer], ['A', answerer]] as const) {
    // The connection that carried the link (warm runs also hold prepared ones).
    const used = events.find((e) => e.ev === 'dc.open')?.pc;
    const seen = new Set<string>();
    for (const e of events) {
      if (e.pc !== -1 && e.pc !== used) continue;
      const name = `${side} ${normalize(e.ev)}`;
      if (seen.has(name)) continue;
      seen.add(name);
      const list = steps[kind].get(name) ?? [];
      list.push(e.t - start);
      steps[kind].set(name, list);
    }
  }
}

/** The medians, in the order of ours cold. */
export function printSetupTraces(): void {
  const names = [...new Set([...steps.cold.keys(), ...steps.peerjs.keys(), ...steps.warm.keys()])];
  const p50 = (kind: Kind, name: string) => {
    const list = steps[kind].get(name);
    return list?.length ? percentile(list, 50) : undefined;
  };
  const order = (name: string) => p50('cold', name) ?? p50('peerjs', name) ?? 0;
  names.sort((x, y) => order(x) - order(y));
  const cell = (kind: Kind, name: string) => {
    const value = p50(kind, name);
    return value === undefined ? '' : `${value.toFixed(2)} (${steps[kind].get(name)!.length})`;
  };
  console.log('setup trace: median ms from the start (n) | step | ours cold | ours warm | PeerJS');
  for (const name of names) console.log(`| ${name} | ${cell('cold', name)} | ${cell('warm', name)} | ${cell('peerjs', name)} |`);
  console.log(`setup trace: transports ${JSON.stringify(stats)}`);
}
