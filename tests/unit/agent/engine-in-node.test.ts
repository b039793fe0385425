/**
 * The console's real engine in Node, no browser: two consoles made with createConsoleSession,
 * a real registry in-process, WebRTC through node-datachannel (src-agent/webrtc.ts) and the
 * registry socket through ws (src-agent/websocket.ts). The first step toward `wsp-agent`.
 * Loopback only: the connections gather on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { startTestRegistry } from '../../support/registry-fixture';
import type { RegistryHandle } from '../../../src-main/registry/registry';
import { createEd25519Signer, createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { parseInvite } from '../../../src-shared/invite';
import { createConsoleSession, type ConsoleSession } from '../../../src-renderer/engine/console-session';
import type { LinkConfig, LinkSnapshot } from '../../../src-renderer/engine/link/peer-link';
import { openWorkstream, type Workstream } from '../../../src-renderer/engine/workstream/workstream';
import { MemoryWorkstreamStore } from '../../../src-renderer/engine/workstream/workstream-store';
import { nodePeerConnectionFactory } from '../../../src-agent/webrtc';
import { createNodeSocket } from '../../../src-agent/websocket';
import { until } from './until';
import { testChannel } from '../../support/link-bus';

interface NodeConsole {
  identity: SecretIdentity;
  session: ConsoleSession;
  /** Messages received, per peer, in arrival order. */
  received: Map<string, unknown[]>;
  errors: string[];
}

let registries: RegistryHandle[] = [];
let consoles: NodeConsole[] = [];
let workstreams: Workstream[] = [];

afterEach(async () => {
  for (const ws of workstreams) ws.close();
  for (const c of consoles) c.session.stop();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  consoles = [];
  workstreams = [];
});

async function projectLink(): Promise<string> {
  const registry = await startTestRegistry();
  registries.push(registry);
  return (await registry.createInvite({ project: 'node-engine', ttlMs: 60_000 })).link;
}

async function join(link: string, name: string, linkConfig: Partial<LinkConfig> = {}): Promise<NodeConsole> {
  const identity = await createIdentity();
  const session = await createConsoleSession({
    invite: parseInvite(link),
    displayName: name,
    identity,
    signChallenge: (nonce) => ed25519Sign(identity.signingSecretKey, signedMessage('registryAuth', nonce)),
    certifySession: (body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)),
    backoff: { baseMs: 200, maxMs: 1000 },
    linkConfig,
    createSocket: createNodeSocket,
    createPeerConnection: nodePeerConnectionFactory({ bindAddress: '127.0.0.1' }),
    prepareConnections: false, // as the agent does (LinkManagerOptions.prepareConnections)
    beginConnectionEarly: false, // as the agent does (LinkManagerOptions.beginConnectionEarly)
  });
  const node: NodeConsole = { identity, session, received: new Map(), errors: [] };
  testChannel(session.links, (peerId, message) => {
    const list = node.received.get(peerId) ?? [];
    list.push(message);
    node.received.set(peerId, list);
  });
  session.links.on('error', ({ code, message }) => node.errors.push(`${code}: ${message}`));
  consoles.push(node);
  session.start();
  return node;
}


function linkTo(from: NodeConsole, to: NodeConsole): LinkSnapshot | undefined {
  return from.session.links.snapshot(to.identity.peerId);
}

const describeLink = (s: LinkSnapshot | undefined) => JSON.stringify({ state: s?.state, path: s?.path, history: s?.history.slice(-25).map((h) => `${h.event}: ${h.detail}`) });

async function sendSeq(from: NodeConsole, to: NodeConsole, count: number, tag: string): Promise<void> {
  for (let seq = 0; seq < count; seq++) await from.session.links.send(to.identity.peerId, { t: 'test', tag, seq });
}

function seqsFrom(at: NodeConsole, from: NodeConsole, tag: string): number[] {
  return (at.received.get(from.identity.peerId) ?? []).filter((m) => (m as { tag?: string }).tag === tag).map((m) => (m as { seq: number }).seq);
}

describe('the link engine in Node (node-datachannel)', () => {
  it('links directly over a host path on 127.0.0.1; messages flow both ways in order; 4 MiB arrives intact', async () => {
    const link = await projectLink();
    const ada = await join(link, 'Ada');
    const bob = await join(link, 'Bob');
    for (const [a, b] of [[ada, bob], [bob, ada]] as const) {
      const snapshot = await until(`${a === ada ? 'Ada' : 'Bob'} direct`, () => {
        const s = linkTo(a, b);
        return s?.state === 'direct' && s.path ? s : undefined;
      }).catch((error: Error) => {
        throw new Error(`${error.message}: ${describeLink(linkTo(a, b))}`);
      });
      expect(snapshot.path).toMatchObject({ kind: 'host', protocol: 'udp', local: expect.stringMatching(/^127\.0\.0\.1:\d+$/), remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    }

    await Promise.all([sendSeq(ada, bob, 300, 'order'), sendSeq(bob, ada, 300, 'order')]);
    const expected = Array.from({ length: 300 }, (_, i) => i);
    await until('300 messages each way', () => seqsFrom(bob, ada, 'order').length === 300 && seqsFrom(ada, bob, 'order').length === 300);
    expect(seqsFrom(bob, ada, 'order')).toEqual(expected);
    expect(seqsFrom(ada, bob, 'order')).toEqual(expected);

    // Larger than the link's 48 KiB chunks, the DataChannel's 256 KiB messages and its 1 MiB high-water mark.
    const big = new Uint8Array(randomBytes(4 * 1024 * 1024));
    const sha = createHash('sha256').update(big).digest('hex');
    await ada.session.links.send(bob.identity.peerId, { t: 'test', tag: 'big', bytes: big });
    const arrived = await until('the 4 MiB message', () => (bob.received.get(ada.identity.peerId) ?? []).find((m) => (m as { tag?: string }).tag === 'big') as { bytes: Uint8Array } | undefined, 30_000);
    expect(arrived.bytes.length).toBe(big.length);
    expect(createHash('sha256').update(arrived.bytes).digest('hex')).toBe(sha);
    expect(linkTo(ada, bob)?.state).toBe('direct'); // it went over the DataChannel, not the relay
    // Not asserted: relayFallbacks === 0. Now and then (rarely without connections prepared ahead;
    // seen under a loaded full run) libdatachannel refuses a well-formed answer ("remote candidate
    // without ICE transport") and the link reaches direct through the relay and its direct retry
    // instead, as above (docs/PEER-PROTOCOL.md, Node peers). That refusal is the one error allowed.
    const libdatachannelRace = /^NEGOTIATION_FAILED: .*Got a remote candidate without ICE transport$/;
    expect([...ada.errors, ...bob.errors].filter((e) => !libdatachannelRace.test(e))).toEqual([]);
  }, 60_000);

  it('with direct paths blocked, the link falls back to the registry relay and still delivers, in order', async () => {
    const link = await projectLink();
    const config = { blockDirect: true, fallbackAfterMs: 1000 };
    const ada = await join(link, 'Ada', config);
    const bob = await join(link, 'Bob', config);
    for (const [a, b] of [[ada, bob], [bob, ada]] as const) {
      await until('relay', () => linkTo(a, b)?.state === 'relay').catch((error: Error) => {
        throw new Error(`${error.message}: ${describeLink(linkTo(a, b))}`);
      });
      expect(linkTo(a, b)?.path).toEqual({ kind: 'registry-relay' });
    }
    await Promise.all([sendSeq(ada, bob, 100, 'relayed'), sendSeq(bob, ada, 100, 'relayed')]);
    const big = new Uint8Array(randomBytes(512 * 1024));
    await bob.session.links.send(ada.identity.peerId, { t: 'test', tag: 'big', bytes: big });
    await until('100 relayed messages each way', () => seqsFrom(bob, ada, 'relayed').length === 100 && seqsFrom(ada, bob, 'relayed').length === 100);
    expect(seqsFrom(bob, ada, 'relayed')).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(seqsFrom(ada, bob, 'relayed')).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const arrived = await until('512 KiB over the relay', () => (ada.received.get(bob.identity.peerId) ?? []).find((m) => (m as { tag?: string }).tag === 'big') as { bytes: Uint8Array } | undefined);
    expect(Buffer.from(arrived.bytes).equals(Buffer.from(big))).toBe(true);
    expect(linkTo(ada, bob)?.state).toBe('relay');
  }, 60_000);

  it('the workstream: two Node consoles post, and both hold the same log', async () => {
    const link = await projectLink();
    const project = parseInvite(link).claims.project;
    const nodes = [await join(link, 'Ada'), await join(link, 'Bob')];
    const [ada, bob] = await Promise.all(
      nodes.map(async (node) => {
        const sign = createEd25519Signer(node.identity.signingSecretKey);
        const ws = await openWorkstream({
          project,
          author: node.identity,
          signEntry: (b) => sign(signedMessage('workstreamEntry', b)),
          links: node.session.links,
          maxFileBytes: () => 64 * 1024 * 1024,
          store: new MemoryWorkstreamStore(),
        });
        workstreams.push(ws);
        return ws;
      }),
    );
    await Promise.all([...Array.from({ length: 5 }, (_, i) => ada!.post('message', { text: `ada ${i}` })), ...Array.from({ length: 5 }, (_, i) => bob!.post('message', { text: `bob ${i}` }))]);
    await until('both logs hold 10 entries', () => ada!.log.size === 10 && bob!.log.size === 10, 20_000);
    const ids = (ws: Workstream) => ws.log.entries().map((e) => e.id);
    expect(ids(ada!)).toEqual(ids(bob!));
    expect(ada!.log.entries().map((e) => (e.body as { text: string }).text).sort()).toEqual([...Array.from({ length: 5 }, (_, i) => `ada ${i}`), ...Array.from({ length: 5 }, (_, i) => `bob ${i}`)].sort());
  }, 60_000);
});
