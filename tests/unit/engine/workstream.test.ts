import { afterEach, describe, expect, it, vi } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { encodeEntryBody, type SignedEntry } from '../../../src-shared/workstream/entry';
import { entryHash } from '../../../src-shared/workstream/chain';
import { RoutedBus } from '../../support/link-bus';
import { openWorkstream, type Workstream, type WorkstreamProblem } from '../../../src-renderer/engine/workstream/workstream';
import { HELLOS_PER_ROUND } from '../../../src-renderer/engine/workstream/workstream-sync';
import { MemoryWorkstreamStore, type StoredEntry } from '../../../src-renderer/engine/workstream/workstream-store';

const PROJECT = 'team';

/** Links between test consoles: messages arrive asynchronously and in order, like a link's stream. */
class FakeBus extends RoutedBus {
  readonly peers = new Map<string, FakeBus>();
  /** Messages this console sent, for tests that look at the wire. */
  readonly sent: Array<{ to: string; message: { t: string } }> = [];
  /** Messages delivered to this console (handled by the time they are here). */
  readonly received: Array<{ from: string; message: { t: string; links?: string[] } }> = [];
  /** While set, what is sent to this console waits (a link whose relay waits for the registry). */
  private held: Array<() => void> | undefined;
  constructor(readonly id: string) {
    super();
  }
  async send(peerId: string, message: unknown): Promise<void> {
    const peer = this.peers.get(peerId);
    if (!peer) throw new Error(`no link to ${peerId}`);
    this.sent.push({ to: peerId, message: message as { t: string } });
    // A copy through MessagePack, as on a real link.
    const copy = structuredClone(message);
    const deliver = () => peer.peers.has(this.id) && peer.deliver(this.id, copy);
    if (peer.held) peer.held.push(deliver);
    else setTimeout(deliver, 0);
  }
  hold(): void {
    this.held ??= [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of held) setTimeout(deliver, 0);
  }
  private readonly taps = new Set<(from: string, message: { t: string }) => void>();
  override deliver(from: string, message: unknown): void {
    this.received.push({ from, message: message as { t: string; links?: string[] } });
    super.deliver(from, message);
    for (const tap of this.taps) tap(from, message as { t: string });
  }
  /** Calls `listener` after each message delivered to this console is handled. */
  tap(listener: (from: string, message: { t: string }) => void): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }
}

/** A store whose next append can be made to fail as an interrupted write would. */
class InterruptibleStore extends MemoryWorkstreamStore {
  failNextAppend = false;
  override async appendEntries(entries: StoredEntry[]): Promise<void> {
    if (this.failNextAppend) {
      this.failNextAppend = false;
      throw new Error('write interrupted');
    }
    return super.appendEntries(entries);
  }
}

interface TestConsole {
  identity: SecretIdentity;
  bus: FakeBus;
  store: MemoryWorkstreamStore;
  ws: Workstream;
  problems: WorkstreamProblem[];
}

/** Every console a test opened, closed after it (their anti-entropy timers would outlive it). */
const opened: TestConsole[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.ws.close();
});

async function makeConsole(options: { maxFileBytes?: number; identity?: SecretIdentity; store?: MemoryWorkstreamStore; antiEntropyMs?: number } = {}): Promise<TestConsole> {
  const identity = options.identity ?? (await createIdentity());
  const bus = new FakeBus(identity.peerId);
  const store = options.store ?? new MemoryWorkstreamStore();
  const ws = await openWorkstream({
    project: PROJECT,
    author: identity,
    signEntry: (b) => ed25519Sign(identity.signingSecretKey, signedMessage('workstreamEntry', b)),
    links: bus,
    maxFileBytes: () => options.maxFileBytes ?? 64 * 1024 * 1024,
    store,
    ...(options.antiEntropyMs ? { antiEntropyMs: options.antiEntropyMs } : {}),
  });
  const problems: WorkstreamProblem[] = [];
  ws.onProblem((p) => problems.push(p));
  const made = { identity, bus, store, ws, problems };
  opened.push(made);
  return made;
}

function link(a: TestConsole, b: TestConsole): void {
  a.bus.peers.set(b.bus.id, b.bus);
  b.bus.peers.set(a.bus.id, a.bus);
  a.bus.fire('open', b.bus.id);
  b.bus.fire('open', a.bus.id);
}

function unlink(a: TestConsole, b: TestConsole): void {
  a.bus.peers.delete(b.bus.id);
  b.bus.peers.delete(a.bus.id);
  a.bus.fire('closed', b.bus.id);
  b.bus.fire('closed', a.bus.id);
}

const ids = (c: TestConsole) => c.ws.log.entries().map((e) => e.id);

/**
 * Until every console has heard, from each console it is linked with, the whole list of that
 * console's links (its hello or `ws-links`): from then on, forwarding is pruned everywhere.
 */
async function linksKnown(...consoles: TestConsole[]): Promise<void> {
  await until(() =>
    consoles.every((x) =>
      [...x.bus.peers.values()].every((peer) => {
        const theirs = [...peer.peers.keys()];
        return x.bus.received.some((r) => r.from === peer.id && (r.message.t === 'ws-links' || r.message.t === 'ws-hello') && theirs.every((id) => r.message.links?.includes(id)));
      }),
    ),
  );
}

/** Resolves once the log has taken everything delivered to it so far (ingests are handled in order). */
const settled = (c: TestConsole) => c.ws.log.ingest([]);

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An entry signed by `identity` (valid or not), as a misbehaving console would send it. */
async function craft(identity: SecretIdentity, seq: number, body: unknown, kind = 'message', signer = identity, ts = Date.now()): Promise<{ b: Uint8Array; s: Uint8Array }> {
  const b = encode([1, PROJECT, identity.signingPublicKey, seq, ts, kind, null, body]);
  return { b, s: await ed25519Sign(signer.signingSecretKey, signedMessage('workstreamEntry', b)) };
}

/**
 * An author's entries `from..to` as a version 2 chain continuing `after` (the body of entry
 * from − 1), signed where `signed(seq)` says: what an author writes in batches.
 */
async function chain(identity: SecretIdentity, from: number, to: number, signed: (seq: number) => boolean, text = (seq: number) => `entry ${seq}`, after?: Uint8Array): Promise<SignedEntry[]> {
  const out: SignedEntry[] = [];
  let previous = after;
  for (let seq = from; seq <= to; seq++) {
    const b = encodeEntryBody({ project: PROJECT, authorKey: identity.signingPublicKey, seq, ts: Date.now(), kind: 'message', body: { text: text(seq) }, prev: previous ? entryHash(previous) : null });
    out.push(signed(seq) ? { b, s: await ed25519Sign(identity.signingSecretKey, signedMessage('workstreamEntry', b)) } : { b });
    previous = b;
  }
  return out;
}

/** How many of a console's stored entries carry a signature. */
const signaturesStored = (c: TestConsole) => [...c.store.entries.values()].filter((e) => e.s).length;

describe('workstream replication', () => {
  it('a console that was offline while 200 entries were posted catches up to the same log in the same order', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(b, c);
    for (let i = 0; i < 100; i++) {
      await b.ws.post('message', { text: `b${i}` });
      await c.ws.post('message', { text: `c${i}` });
    }
    await until(() => b.ws.log.size === 200 && c.ws.log.size === 200);
    expect(a.ws.log.size).toBe(0);
    link(a, b);
    await until(() => a.ws.log.size === 200);
    expect(ids(a)).toEqual(ids(b));
    expect(ids(b)).toEqual(ids(c));
    expect(a.problems).toEqual([]);
  });

  it('gossip: a console linked to only one other still receives everything, both ways', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, b);
    link(b, c); // a and c never link
    await a.ws.post('message', { text: 'from a' });
    await c.ws.post('task', { title: 'from c', state: 'open' });
    await until(() => a.ws.log.size === 2 && c.ws.log.size === 2);
    expect(ids(a)).toEqual(ids(c));
    expect(a.ws.log.entries().map((e) => e.kind).sort()).toEqual(['message', 'task']);
  });

  it('links that open one after another are announced once, not once per link; a closed one at once', async () => {
    const [a, b, c, d] = await Promise.all([makeConsole(), makeConsole(), makeConsole(), makeConsole()]);
    for (const peer of [b, c, d]) {
      link(a, peer);
      await new Promise((done) => setTimeout(done, 150));
    }
    await linksKnown(a, b, c, d);
    const announcements = () => a.bus.sent.filter((s) => s.message.t === 'ws-links');
    // d's hello already named b, c and d; b and c hear of the others once.
    await until(() => announcements().length === 2);
    await new Promise((done) => setTimeout(done, 1200));
    expect(announcements().map((s) => s.to).sort()).toEqual([b.bus.id, c.bus.id].sort());

    const toldB = (r: { from: string; message: { t: string; links?: string[] } }) => r.from === a.bus.id && r.message.t === 'ws-links' && !r.message.links?.includes(c.bus.id);
    const lost = Date.now();
    unlink(a, c);
    await until(() => b.bus.received.some(toldB));
    expect(Date.now() - lost).toBeLessThan(500);
  });

  it('in a full mesh nobody forwards an author’s entries to a console linked with that author', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, b);
    link(b, c);
    link(a, c);
    await linksKnown(a, b, c);
    let last;
    for (let i = 0; i < 10; i++) last = await a.ws.post('message', { text: `a${i}` });
    // b and c confirmed all ten: each took them, and so decided whether to forward them.
    await until(() => a.ws.unconfirmed(last!).length === 0);
    expect(b.ws.log.size).toBe(10);
    expect(c.ws.log.size).toBe(10);
    const forwarded = (x: TestConsole) => x.bus.sent.filter((s) => s.to !== a.bus.id && s.message.t === 'ws-entries').length;
    expect(forwarded(b)).toBe(0);
    expect(forwarded(c)).toBe(0);
  });

  it('an entry lost on the way is repaired by the periodic hello (anti-entropy)', async () => {
    const [a, b] = await Promise.all([makeConsole({ antiEntropyMs: 200 }), makeConsole({ antiEntropyMs: 200 })]);
    link(a, b);
    await a.ws.post('message', { text: 'one' });
    await until(() => b.ws.log.size === 1);
    // The next push is lost (a link hiccup), and nothing else is posted after it.
    const send = a.bus.send.bind(a.bus);
    let dropped = 0;
    a.bus.send = async (peerId, message) => {
      if ((message as { t: string }).t === 'ws-entries' && dropped++ === 0) return;
      return send(peerId, message);
    };
    await a.ws.post('message', { text: 'two' });
    expect(dropped).toBe(1);
    await until(() => b.ws.log.size === 2, 5_000);
  });

  it('periodic hellos go to one console at a time, at most HELLOS_PER_ROUND a round: a console linked with many does not send each a hello every round', async () => {
    const ROUND_MS = 400;
    const hub = await makeConsole({ antiEntropyMs: ROUND_MS });
    const peers = await Promise.all(Array.from({ length: 25 }, () => makeConsole()));
    for (const peer of peers) link(hub, peer);
    await hub.ws.post('message', { text: 'one' });
    await until(() => peers.every((p) => p.ws.log.size === 1));
    const hellos = () => hub.bus.sent.filter((s) => s.message.t === 'ws-hello');
    const before = hellos().length; // one per link open
    const started = performance.now();
    await new Promise((done) => setTimeout(done, 3 * ROUND_MS * 2.5)); // 7.5 rounds
    const periodic = hellos().slice(before);
    const rounds = (performance.now() - started) / ROUND_MS;
    // Each round sent every link a hello before: 25 a round. Now at most 10 a round, in turn.
    expect(periodic.length).toBeLessThanOrEqual(Math.ceil(rounds * HELLOS_PER_ROUND) + 1);
    // In turn: every linked console had one within 25 ticks (2.5 rounds).
    expect(new Set(periodic.map((s) => s.to)).size).toBe(peers.length);
  });

  it('with a few consoles linked, each still gets its periodic hello every round', async () => {
    const ROUND_MS = 400;
    const hub = await makeConsole({ antiEntropyMs: ROUND_MS });
    const peers = await Promise.all(Array.from({ length: 3 }, () => makeConsole()));
    for (const peer of peers) link(hub, peer);
    await until(() => hub.bus.sent.filter((s) => s.message.t === 'ws-hello').length === 3);
    await new Promise((done) => setTimeout(done, 4 * ROUND_MS + ROUND_MS / 2));
    const periodic = hub.bus.sent.filter((s) => s.message.t === 'ws-hello').slice(3);
    for (const peer of peers) {
      const got = periodic.filter((s) => s.to === peer.identity.peerId).length;
      expect(got).toBeGreaterThanOrEqual(3); // ~4 rounds, timers allowing
      expect(got).toBeLessThanOrEqual(5);
    }
  });

  it('an entry never sorts before its author’s earlier ones, whatever time it claims; every console shows one order', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    const x = await createIdentity();
    const y = await createIdentity();
    const t = Date.now();
    // x's second entry claims an earlier time than its first; y writes in between.
    const entries = [await craft(x, 1, { text: 'x1' }, 'message', x, t + 1000), await craft(x, 2, { text: 'x2' }, 'message', x, t), await craft(y, 1, { text: 'y1' }, 'message', y, t + 500)];
    await a.ws.log.ingest(entries);
    await b.ws.log.ingest([...entries].reverse());
    const texts = (c: TestConsole) => c.ws.log.entries().map((e) => (e.body as { text: string }).text);
    expect(texts(a)).toEqual(['y1', 'x1', 'x2']);
    expect(texts(b)).toEqual(texts(a));
  });

  it('a gap in an author’s sequence is fetched, never skipped', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    const author = await createIdentity();
    const entries = await Promise.all([1, 2, 3, 4].map((seq) => craft(author, seq, { text: `n${seq}` })));
    // b holds 1–4; a hears of 3 and 4 first (as if 1–2 were lost on the way).
    await b.ws.log.ingest(entries);
    a.bus.peers.set(b.bus.id, b.bus);
    b.bus.peers.set(a.bus.id, a.bus);
    await a.ws.log.ingest([entries[2], entries[3]], b.bus.id).then(({ gaps }) => expect(gaps).toEqual([{ author: author.peerId, from: 1, to: 2 }]));
    expect(a.ws.log.size).toBe(0); // held back, not shown out of order
    a.bus.deliver(b.bus.id, { t: 'ws-entries', project: PROJECT, entries: [entries[3]] });
    await until(() => a.bus.sent.some((s) => s.message.t === 'ws-want'));
    await until(() => a.ws.log.size === 4);
    expect(a.ws.log.entries().map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('a forged entry, an equivocating author and a malformed entry are rejected and reported on every console, and never stored', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, b);
    link(b, c);
    const mallory = await createIdentity();
    const honest = await craft(mallory, 1, { text: 'first' });
    const twin = await craft(mallory, 1, { text: 'a different first' });
    const forged = await craft(mallory, 2, { text: 'not signed by mallory' }, 'message', a.identity);
    const malformed = await craft(mallory, 2, { text: '' }); // a message needs text
    // Mallory tells a one story and c another; both pass them on.
    a.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: [honest, forged, malformed] });
    c.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: [twin] });
    await until(() => [a, b, c].every((x) => x.problems.some((p) => p.code === 'EQUIVOCATION')));
    for (const x of [a, b, c]) {
      expect(x.ws.log.size).toBe(1);
      expect(x.ws.log.equivocators.has(mallory.peerId)).toBe(true);
    }
    expect(a.problems.map((p) => p.code).sort()).toEqual(['ENTRY_FORGED', 'EQUIVOCATION', 'MALFORMED_ENTRY']);
    // What was refused is in no store.
    for (const x of [a, b, c]) expect(x.store.entries.size).toBe(1);
    // Each console keeps the version it saw first: a and c disagree about mallory's entry 1, and say so.
    expect(a.ws.log.entries()[0]!.signed.b).not.toEqual(c.ws.log.entries()[0]!.signed.b);
  });

  it('an author who tells consoles linked with it different stories is caught by every console (chain digests in the hello)', async () => {
    const [a, b, c] = (await Promise.all([0, 1, 2].map(() => makeConsole({ antiEntropyMs: 200 })))) as [TestConsole, TestConsole, TestConsole];
    const mallory = await makeConsole({ antiEntropyMs: 200 });
    for (const [x, y] of [[a, b], [b, c], [a, c], [mallory, a], [mallory, b], [mallory, c]] as const) link(x, y);
    await linksKnown(a, b, c, mallory); // everyone knows everyone is linked with mallory: no forwarding
    a.bus.deliver(mallory.bus.id, { t: 'ws-entries', project: PROJECT, entries: [await craft(mallory.identity, 1, { text: 'yes' })] });
    b.bus.deliver(mallory.bus.id, { t: 'ws-entries', project: PROJECT, entries: [await craft(mallory.identity, 1, { text: 'no' })] });
    await until(() => [a, b, c].every((x) => x.ws.log.equivocators.has(mallory.identity.peerId)), 5_000);
    for (const x of [a, b, c]) expect(x.problems.filter((p) => p.code === 'EQUIVOCATION')).toHaveLength(1);
  });

  it('an entry dated ahead of the receiver’s clock is refused and reported once; its author’s later entries stop behind it, everyone else’s flow; it is taken once the clock gets there', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    link(a, b);
    const mallory = await createIdentity();
    const now = Date.now();
    const first = await craft(mallory, 1, { text: 'on time' });
    const ahead = await craft(mallory, 2, { text: 'an hour ahead' }, 'message', mallory, now + 3_600_000);
    const after = await craft(mallory, 3, { text: 'after it' });
    const send = () => a.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: [first, ahead, after] });
    send();
    await until(() => a.problems.some((p) => p.code === 'ENTRY_AHEAD'));
    expect(a.problems.find((p) => p.code === 'ENTRY_AHEAD')!.message).toMatch(/entry 2 is dated .*, 60 min ahead of this console's clock/);
    await b.ws.post('message', { text: 'bob goes on' });
    await until(() => a.ws.log.size === 2 && b.ws.log.size === 2);
    const texts = (c: TestConsole) => c.ws.log.entries().map((e) => (e.body as { text: string }).text);
    expect(texts(a)).toEqual(['on time', 'bob goes on']);
    expect(texts(b)).toEqual(['on time', 'bob goes on']); // forwarded: entry 1 only
    // The refused entry is no gap to ask for (that would ask again at once, forever).
    expect(a.bus.sent.filter((m) => m.message.t === 'ws-want')).toEqual([]);
    send(); // as the author's hello does every 15 s: refused again, reported once
    await settled(a);
    expect(a.problems.filter((p) => p.code === 'ENTRY_AHEAD')).toHaveLength(1);
    expect(a.store.entries.size).toBe(2);
    // Once this console's clock is within reach of the entry's time, it and the rest are taken.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(now + 3_600_000 - 5 * 60_000);
      send();
      await until(() => a.ws.log.size === 4);
    } finally {
      vi.useRealTimers();
    }
    expect(texts(a)).toEqual(['on time', 'bob goes on', 'an hour ahead', 'after it']);
  });

  it('an entry dated beyond what a Date can hold is malformed, and one an earlier version stored is not loaded', async () => {
    const a = await makeConsole();
    const mallory = await createIdentity();
    const bad = await craft(mallory, 1, { text: 'year 275760 and beyond' }, 'message', mallory, 8.7e15);
    a.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: [bad] });
    await until(() => a.problems.length === 1);
    expect(a.problems[0]!.code).toBe('MALFORMED_ENTRY');

    const store = new MemoryWorkstreamStore();
    const ada = await createIdentity();
    store.entries.set(`${mallory.peerId}:1`, bad);
    store.entries.set(`${ada.peerId}:1`, await craft(ada, 1, { text: 'hello' }));
    const reopened = await makeConsole({ store });
    expect(reopened.ws.log.entries().map((e) => e.author)).toEqual([ada.peerId]);
  });

  it('malformed replication messages are reported and change nothing', async () => {
    const a = await makeConsole();
    a.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: 'nope' });
    a.bus.deliver('x', { t: 'ws-want', project: PROJECT, author: 'not-a-peer', from: 1, to: 2 });
    a.bus.deliver('x', { t: 'ws-entries', project: 'other', entries: [] });
    a.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: [{ b: new Uint8Array([0xc1]), s: new Uint8Array(64) }] });
    await until(() => a.problems.length === 4);
    expect(a.problems.map((p) => p.code)).toEqual(['MALFORMED_MESSAGE', 'MALFORMED_MESSAGE', 'WRONG_PROJECT', 'MALFORMED_ENTRY']);
    expect(a.ws.log.size).toBe(0);
  });
});

describe('the signed chain: one signature per batch, per message, per catch-up range', () => {
  it('300 entries posted at once are signed as three batches, and every console takes them with one signature check per message', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    link(a, b);
    let signatures = 0;
    const sign = (body: Uint8Array) => (signatures++, ed25519Sign(a.identity.signingSecretKey, signedMessage('workstreamEntry', body)));
    const posted = await Promise.all(Array.from({ length: 300 }, (_, i) => a.ws.log.append(a.identity, 'message', { text: `m${i}` }, sign)));
    expect(posted.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(signatures).toBeLessThanOrEqual(3); // the first alone, then the rest in batches of at most 256
    await until(() => b.ws.log.size === 300);
    expect(ids(b)).toEqual(ids(a));
    expect(signaturesStored(a)).toBe(signatures);
    expect(signaturesStored(b)).toBeLessThanOrEqual(3);
    const entryMessages = a.bus.sent.filter((m) => m.message.t === 'ws-entries') as unknown as Array<{ message: { entries: SignedEntry[] } }>;
    for (const { message } of entryMessages) expect(message.entries.filter((e) => e.s)).toHaveLength(1);
  });

  it('a catch-up on 1,000 entries signed one by one carries one signature per message, and the newcomer stores only those', async () => {
    const [a, late] = await Promise.all([makeConsole(), makeConsole()]);
    for (let i = 0; i < 1000; i++) await a.ws.post('message', { text: `m${i}` }); // one batch each: all signed
    expect(signaturesStored(a)).toBe(1000);
    link(a, late);
    await until(() => late.ws.log.size === 1000);
    expect(ids(late)).toEqual(ids(a));
    const messages = a.bus.sent.filter((m) => m.message.t === 'ws-entries') as unknown as Array<{ message: { entries: SignedEntry[] } }>;
    expect(messages.length).toBe(Math.ceil(1000 / 256));
    for (const { message } of messages) expect(message.entries.map((e) => Boolean(e.s))).toEqual(message.entries.map((_, i) => i === message.entries.length - 1));
    expect(signaturesStored(late)).toBe(messages.length);
    // And what the newcomer holds it can pass on: a third console catches up from it alone.
    const third = await makeConsole();
    link(late, third);
    await until(() => third.ws.log.size === 1000);
    expect(ids(third)).toEqual(ids(a));
  });

  it('an altered entry, a forged cover and entries with no signature after them are refused and never stored; the rest is fetched', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    link(a, b);
    const mallory = await createIdentity();
    const honest = await chain(mallory, 1, 6, (seq) => seq === 6);
    const altered = structuredClone(honest);
    altered[2] = (await chain(mallory, 3, 3, () => false, () => 'what mallory never wrote', honest[1]!.b))[0]!;
    const otherKey = await createIdentity();
    const forgedCover = [...structuredClone(honest).slice(0, 5), { b: honest[5]!.b, s: await ed25519Sign(otherKey.signingSecretKey, signedMessage('workstreamEntry', honest[5]!.b)) }];
    b.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: forgedCover });
    await settled(b);
    expect(b.problems.map((p) => p.code)).toEqual(['ENTRY_FORGED']);
    expect(b.ws.log.size).toBe(0);
    b.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: honest.slice(0, 5) }); // its signature left out
    await settled(b);
    expect(b.problems.at(-1)).toMatchObject({ code: 'MALFORMED_ENTRY', message: expect.stringMatching(/entries 1–5: no signature in the message covers them/) });
    // The altered entry 3 breaks the chain: 1–3 have no signature after them; 4–6 verify and wait for the gap.
    b.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: altered });
    await settled(b);
    expect(b.ws.log.size).toBe(0);
    expect(b.store.entries.size).toBe(0);
    expect(b.problems.at(-1)?.message).toMatch(/entries 1–3: no signature in the message covers them/);
    expect(b.ws.log.gaps()).toEqual([{ author: mallory.peerId, from: 1, to: 3 }]);
    // The honest 1–3 (from a console that has them) complete the chain; the altered text is nowhere.
    b.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: [...honest.slice(0, 2), { ...honest[2]!, s: await ed25519Sign(mallory.signingSecretKey, signedMessage('workstreamEntry', honest[2]!.b)) }] });
    await until(() => b.ws.log.size === 6);
    expect(b.ws.log.entries().map((e) => (e.body as { text: string }).text)).toEqual([1, 2, 3, 4, 5, 6].map((n) => `entry ${n}`));
  });

  it('an author who signs two histories is caught where they fork, by every console, and the log stops at the fork', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, b);
    link(b, c);
    const mallory = await createIdentity();
    const common = await chain(mallory, 1, 2, (seq) => seq === 2);
    const yes = await chain(mallory, 3, 4, (seq) => seq === 4, (seq) => `yes ${seq}`, common[1]!.b);
    const no = await chain(mallory, 3, 5, (seq) => seq === 5, (seq) => `no ${seq}`, common[1]!.b);
    a.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: [...common, ...yes] });
    await until(() => c.ws.log.size === 4);
    // Mallory tells c only what follows her other entry 3 (entry 5 links to "no 4", which c never saw).
    c.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: no.slice(2) });
    await until(() => [a, b, c].every((x) => x.ws.log.equivocators.has(mallory.peerId)));
    for (const x of [a, b, c]) {
      expect(x.problems.filter((p) => p.code === 'EQUIVOCATION')).toHaveLength(1);
      expect(x.ws.log.size).toBe(4);
      expect(x.ws.log.gaps()).toEqual([]); // nothing asked for again: the log stops at the fork
    }
    // And where a console sees the other version of an entry it holds, in the same way.
    const d = await makeConsole();
    d.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: [...common, ...yes] });
    d.bus.deliver('mallory', { t: 'ws-entries', project: PROJECT, entries: no.slice(0, 3) });
    await until(() => d.ws.log.equivocators.has(mallory.peerId));
    expect(d.ws.log.entries().map((e) => (e.body as { text: string }).text)).toEqual(['entry 1', 'entry 2', 'yes 3', 'yes 4']);
  });

  it('an author with entries of the earlier format (each signed) goes on in the chain from the last of them', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    const old = [await craft(a.identity, 1, { text: 'old one' }), await craft(a.identity, 2, { text: 'old two' })];
    await a.ws.log.ingest(old);
    const next = await a.ws.post('message', { text: 'new three' });
    expect(next.version).toBe(2);
    expect(next.prev).toEqual(entryHash(old[1]!.b));
    link(a, b);
    await until(() => b.ws.log.size === 3);
    expect(ids(b)).toEqual(ids(a));
  });

  it('an entry held back without a signature keeps the one a later message brings for it (so it can cover what comes before it), across a restart', async () => {
    const b = await makeConsole();
    const mallory = await createIdentity();
    const entries = await chain(mallory, 1, 4, () => true);
    b.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: [{ b: entries[1]!.b }, { b: entries[2]!.b }, entries[3]!] }); // 2–4, waiting for 1
    await settled(b);
    b.bus.deliver('x', { t: 'ws-entries', project: PROJECT, entries: [{ b: entries[0]!.b }, entries[1]!] });
    await until(() => b.ws.log.size === 4);
    expect(signaturesStored(b)).toBe(2);
    b.ws.close();
    const again = await makeConsole({ identity: b.identity, store: b.store });
    expect(again.ws.log.get(`${mallory.peerId}:2`)?.signed.s).toBeDefined();
  });
});

describe('workstream delivery', () => {
  it('an own entry is not yet delivered to each linked console until that console says it holds it', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, b);
    link(a, c);
    link(b, c);
    await linksKnown(a, b, c);
    let changes = 0;
    a.ws.onConfirmations(() => changes++);
    b.bus.hold(); // b's link carries nothing for now
    const entry = await a.ws.post('message', { text: 'are you there?' });
    expect(a.ws.unconfirmed(entry).sort()).toEqual([b.bus.id, c.bus.id].sort());
    await expect.poll(() => a.ws.unconfirmed(entry)).toEqual([b.bus.id]);
    // c confirmed, so it took the entry and decided not to forward it to b (linked with a).
    expect(c.bus.sent.filter((s) => s.to === b.bus.id && s.message.t === 'ws-entries')).toEqual([]);
    // What a and c sent b waits at b's link, so b has said nothing.
    expect(a.bus.sent.some((s) => s.to === b.bus.id && s.message.t === 'ws-entries')).toBe(true);
    expect(a.ws.unconfirmed(entry)).toEqual([b.bus.id]);
    b.bus.release();
    await expect.poll(() => a.ws.unconfirmed(entry)).toEqual([]);
    expect(changes).toBeGreaterThanOrEqual(2);
    // A console that is no longer linked is no longer waited for.
    const later = await a.ws.post('message', { text: 'one more' });
    unlink(a, c);
    expect(a.ws.unconfirmed(later)).not.toContain(c.bus.id);
  });
});

describe('workstream persistence', () => {
  it('a restart has everything it had, and its own numbering goes on (no reuse, no equivocation)', async () => {
    const a = await makeConsole();
    await a.ws.post('message', { text: 'one' });
    await a.ws.post('status', { state: 'working', text: 'on it' });
    a.ws.close();
    const again = await makeConsole({ identity: a.identity, store: a.store });
    expect(ids(again)).toEqual(ids(a));
    const third = await again.ws.post('message', { text: 'three' });
    expect(third.seq).toBe(3);
  });

  it('a write interrupted mid-way leaves no partial entry, and the batch is taken again later', async () => {
    const [a, b] = await Promise.all([makeConsole({ store: new InterruptibleStore() }), makeConsole()]);
    for (let i = 0; i < 20; i++) await b.ws.post('message', { text: `m${i}` });
    const batch = b.ws.log.range(b.identity.peerId, 1, 20).map((e) => e.signed);
    (a.store as InterruptibleStore).failNextAppend = true;
    await expect(a.ws.log.ingest(batch, b.bus.id)).rejects.toThrow('write interrupted');
    expect(a.store.entries.size).toBe(0);
    expect(a.ws.log.size).toBe(0);
    // Nothing half: a restart from this store has nothing; the next delivery stores all 20.
    const restarted = await makeConsole({ identity: a.identity, store: a.store });
    expect(restarted.ws.log.size).toBe(0);
    await restarted.ws.log.ingest(batch, b.bus.id);
    expect(restarted.store.entries.size).toBe(20);
  });

  it('task updates refer to the task they change', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    link(a, b);
    const task = await a.ws.post('task', { title: 'write the docs', state: 'open' });
    await b.ws.post('task', { state: 'claimed' }, task.id);
    await until(() => a.ws.log.size === 2);
    // Both may carry the same millisecond (then the order is by author): find the claim by id.
    const claim = a.ws.log.entries().find((e) => e.id !== task.id)!;
    expect(claim.ref).toBe(task.id);
    await expect(a.ws.post('task', { state: 'open' })).rejects.toThrow('a new task needs a title');
  });
});

/** Compares a (large) blob with bytes without a deep-equality diff. */
async function sameBytes(blob: Promise<Blob | undefined>, data: Uint8Array): Promise<boolean> {
  const b = await blob;
  return Boolean(b) && Buffer.from(await b!.arrayBuffer()).equals(Buffer.from(data));
}

describe('workstream files', () => {
  const file = (bytes: number) => {
    const data = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(bytes, i + 65536)));
    return { data, blob: new Blob([data]) };
  };

  it('a download interrupted mid-way resumes from the last verified chunk, from another console that has the file', async () => {
    const [a, b, c] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, b);
    link(a, c);
    const { data, blob } = file(8 * 1024 * 1024 + 123); // 33 chunks of 256 KiB
    const entry = await a.ws.share(blob, 'model.bin');
    await until(() => b.ws.log.size === 1 && c.ws.log.size === 1);
    await c.ws.files.download(entry.id); // c has it too now
    link(b, c);
    // b starts from a; a drops out after 20 chunks.
    let chunksFromA = 0;
    const offAfter = b.bus.tap((peerId, message) => {
      if (peerId === a.bus.id && message.t === 'ws-file-chunk' && ++chunksFromA === 20) unlink(a, b);
    });
    await b.ws.files.download(entry.id);
    offAfter();
    expect(await sameBytes(b.ws.files.blob(entry.id), data)).toBe(true);
    // Resumed, not restarted: c sent exactly the chunks b had not received from a.
    const fromC = c.ws.files.status(entry.id)!.uploads[b.bus.id]!;
    expect(fromC).toBe(data.length - 20 * 256 * 1024);
    expect(b.ws.files.status(entry.id)!.state).toBe('complete');
  });

  it('a chunk that does not match its hash is discarded, reported, and fetched from someone else', async () => {
    const [a, b, liar] = await Promise.all([makeConsole(), makeConsole(), makeConsole()]);
    link(a, liar);
    const { data, blob } = file(600 * 1024);
    const entry = await a.ws.share(blob, 'notes.txt');
    await until(() => liar.ws.log.size === 1);
    await liar.ws.files.download(entry.id);
    // The liar's copy of chunk 1 is corrupted; b asks it first (a is not linked to b yet).
    liar.store.chunks.set(`${a.ws.files.status(entry.id)!.sha}:1`, new Uint8Array(256 * 1024));
    unlink(a, liar);
    link(b, liar);
    await until(() => b.ws.log.size === 1);
    const download = b.ws.files.download(entry.id);
    await until(() => b.problems.some((p) => p.code === 'FILE_CHUNK_INVALID'));
    link(a, b);
    await download;
    expect(await sameBytes(b.ws.files.blob(entry.id), data)).toBe(true);
  });

  it('a download asked for the moment its entry arrives waits for the file’s status and completes', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    link(a, b);
    let started: Promise<void> | undefined;
    // As a GUI that downloads what arrives would: before the store has said which chunks are held.
    b.ws.log.on('added', ({ entries }) => {
      try {
        started = b.ws.files.download(entries[0]!.id);
      } catch (error) {
        started = Promise.reject(error as Error);
      }
    });
    const { data, blob } = file(300 * 1024);
    const entry = await a.ws.share(blob, 'early.bin');
    await until(() => started !== undefined);
    await started;
    expect(await sameBytes(b.ws.files.blob(entry.id), data)).toBe(true);
    expect(b.ws.files.status(entry.id)!.state).toBe('complete');
  });

  it('chunks asked of a console whose end of the link restarted are asked again at once, not after the 20 s stall timer', async () => {
    const [a, b] = await Promise.all([makeConsole(), makeConsole()]);
    link(a, b);
    const { data, blob } = file(600 * 1024);
    const entry = await a.ws.share(blob, 'restart.bin');
    await until(() => b.ws.log.size === 1);
    // b's first request reaches a's old end of the link, which is gone: the link says so (reset).
    const send = b.bus.send.bind(b.bus);
    let requests = 0;
    b.bus.send = async (peerId, message) => {
      if ((message as { t: string }).t === 'ws-file-get' && requests++ === 0) return void setTimeout(() => b.bus.fire('reset', a.bus.id), 10);
      return send(peerId, message);
    };
    const download = b.ws.files.download(entry.id);
    const timedOut = new Promise<'timed out'>((resolve) => setTimeout(() => resolve('timed out'), 3_000));
    expect(await Promise.race([download.then(() => 'done'), timedOut])).toBe('done');
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(await sameBytes(b.ws.files.blob(entry.id), data)).toBe(true);
  });

  it('a file over the size limit is refused with a message, on both sides', async () => {
    const a = await makeConsole({ maxFileBytes: 1024 * 1024 });
    await expect(a.ws.share(file(2 * 1024 * 1024).blob, 'big.iso')).rejects.toThrow(/big.iso.*2.0 MiB: files over 1.0 MiB cannot be shared/);
    expect(a.ws.log.size).toBe(0);
    const big = await makeConsole();
    const small = await makeConsole({ maxFileBytes: 1024 * 1024 });
    link(big, small);
    const entry = await big.ws.share(file(2 * 1024 * 1024).blob, 'big.iso');
    await until(() => small.ws.log.size === 1);
    await expect(small.ws.files.download(entry.id)).rejects.toThrow(/are not downloaded/);
    expect(small.ws.files.status(entry.id)!.state).toBe('failed');
  });

  it('a file name a peer chose is isolated in the problem text: a direction override in it cannot turn the sentence around', async () => {
    const [FSI, PDI, RLO] = ['\u2068', '\u2069', '\u202e'];
    const name = `report${RLO}exe.txt`;
    const a = await makeConsole({ maxFileBytes: 1024 * 1024 });
    await expect(a.ws.share(file(2 * 1024 * 1024).blob, name)).rejects.toThrow(`“${FSI}${name}${PDI}” is 2.0 MiB: files over 1.0 MiB cannot be shared`);
    const big = await makeConsole();
    const small = await makeConsole({ maxFileBytes: 1024 * 1024 });
    link(big, small);
    const entry = await big.ws.share(file(2 * 1024 * 1024).blob, name);
    await until(() => small.ws.log.size === 1);
    await expect(small.ws.files.download(entry.id)).rejects.toThrow(`“${FSI}${name}${PDI}” is 2.0 MiB: files over 1.0 MiB are not downloaded`);
  });

  it('an entry body is validated before it is signed', () => {
    expect(() => encodeEntryBody({ project: PROJECT, authorKey: new Uint8Array(32), seq: 1, ts: 1, kind: 'file', body: { name: 'a/b', size: 1 } })).toThrow(/file/);
  });
});
