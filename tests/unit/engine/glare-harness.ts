/**
 * Two PeerLinks negotiating over a wire the test delivers by hand (FIFO each way, as the registry
 * is), on a manual clock, with connections that keep the spec's signaling states
 * (negotiating-connection.ts): for orderings of a burst's glare that real timing rarely gives.
 * The member offers first (it saw the newcomer join); the newcomer waits for its offer.
 */
import type { SignalType } from '../../../src-shared/protocol/signaling';
import { deriveSignalKey } from '../../../src-renderer/engine/link/signal-key';
import { PeerLink } from '../../../src-renderer/engine/link/peer-link';
import { decodeEnvelope, decodeLinkSignal } from '../../../src-renderer/engine/link/signal-codec';
import { ManualClock } from './manual-clock';
import { NegotiatingConnection } from './negotiating-connection';
import { linkBetween, twoParties, type Party } from './test-link';

export interface Wired {
  name: 'member' | 'newcomer';
  link: PeerLink;
  connections: NegotiatingConnection[];
  /** Sent, not yet delivered to the other side. */
  outbox: Array<{ type: SignalType; payload: Uint8Array }>;
  /** Every type sent, delivered or not. */
  sent: SignalType[];
  errors: string[];
}


export async function wiredPair(memberPolite: boolean) {
  const [member, newcomer] = await twoParties(memberPolite);
  const clock = new ManualClock();
  const make = async (name: Wired['name'], me: Party, peer: Party): Promise<Wired> => {
    const wired: Wired = { name, link: undefined as unknown as PeerLink, connections: [], outbox: [], sent: [], errors: [] };
    const remoteSignalKey = await deriveSignalKey(me.session, peer.session.certificate);
    wired.link = new PeerLink({
      ...linkBetween(me, peer),
      remoteCertificate: peer.session.certificate,
      ...(remoteSignalKey ? { remoteSignalKey } : {}),
      clock,
      // The orderings here were recorded from real pages with every candidate trickled at once;
      // holding some back (negotiation.ts) has its own tests (held-candidates.test.ts).
      config: { holdCandidatesMs: 0 },
      offersFirst: name === 'member',
      port: { sendSignal: (type, payload) => (wired.outbox.push({ type, payload }), wired.sent.push(type), true), sendRelay: () => true, relayWritable: () => true, relayMaxFrameBytes: () => 256 * 1024 },
      createPeerConnection: () => {
        const pc = new NegotiatingConnection();
        wired.connections.push(pc);
        return pc as unknown as RTCPeerConnection;
      },
    });
    wired.link.on('error', (error) => wired.errors.push(`${error.code}: ${error.message}`));
    return wired;
  };
  const m = await make('member', member, newcomer);
  const n = await make('newcomer', newcomer, member);
  const other = (w: Wired) => (w === m ? n : m);
  /** The signaling each link has taken in, checked (WebCrypto) and applied: its private inbox, read here so a slow machine cannot reorder a test. */
  const applied = () => Promise.all([m, n].map((w) => (w.link as unknown as { inbox: Promise<void> }).inbox));
  /** Lets the links apply what they were given, and the connections' timers (gathering, slow operations) run. */
  const settle = async () => {
    await applied();
    await new Promise((done) => setTimeout(done, 8));
    await applied();
  };
  const trace: string[] = [];

  /** Delivers the oldest undelivered message from `from` (false if none). */
  async function deliver(from: Wired, wait = true): Promise<boolean> {
    const message = from.outbox.shift();
    if (!message) return false;
    trace.push(`${from.name}→ ${describe(message)}`);
    other(from).link.handleSignal(message.type, message.payload);
    if (wait) await settle();
    return true;
  }
  async function advance(ms: number, wait = true): Promise<void> {
    trace.push(`+${ms} ms`);
    clock.advance(ms);
    if (wait) await settle();
  }
  /** Delivers everything either way until nothing is left, time standing still (throws on what looks like a loop). */
  async function drain(): Promise<void> {
    for (let count = 0; (await deliver(m)) || (await deliver(n)); count++) {
      if (count > 40) throw new Error(`signaling does not stop (a loop of offers?)\n${report()}`);
    }
  }
  /** What `from` has yet to deliver, by kind (offer, answer, candidate, end-of-candidates). */
  const pending = (from: Wired) => from.outbox.map(describe).map((d) => d.split('#')[0]!);
  /** Drops (loses on the way) `from`'s undelivered messages. */
  const lose = (from: Wired) => void from.outbox.splice(0);
  /** Whether the two current connections are paired and ICE runs on both. */
  function linked(): boolean {
    const [a, b] = [m.connections.at(-1), n.connections.at(-1)];
    return Boolean(a && b && a.pairedWith === b.ufrag && b.pairedWith === a.ufrag);
  }
  function report(): string {
    const side = (w: Wired) =>
      `${w.name} (${w.link.polite ? 'polite' : 'impolite'}): ${w.connections.map((pc) => `${pc.ufrag} [${pc.signalingState}, ice ${pc.iceConnectionState}] ${pc.log.join(', ')}`).join(' | ')}\n  history: ${w.link
        .snapshot()
        .history.map((h) => `${h.event} ${h.detail}`)
        .join('; ')}\n  errors: ${w.errors.join('; ')}`;
    return `trace: ${trace.join(' · ')}\n${side(m)}\n${side(n)}`;
  }
  return { m, n, clock, pending, lose, deliver, advance, drain, linked, report, trace, close: () => (m.link.close(), n.link.close()) };
}

function describe(message: { type: SignalType; payload: Uint8Array }): string {
  const envelope = decodeEnvelope(message.payload);
  if ('error' in envelope) return message.type;
  const signal = decodeLinkSignal(envelope.body);
  if ('error' in signal) return message.type;
  const what = signal.description ? signal.description.type : signal.candidate ? 'candidate' : 'end-of-candidates';
  return `${what}#${envelope.seq}`;
}
