/**
 * openConsole, the engine's composition root, in Node: the console exactly as the GUI store and
 * the browser harness open it (links, trust on first use, workstream, relay usage, link-states),
 * with a host of the agent's kind (keys in memory, trust records in memory), WebRTC through
 * node-datachannel and a real registry in-process. Loopback only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRegistry } from '../../support/registry-fixture';
import type { RegistryHandle } from '../../../src-main/registry/registry';
import { createEd25519Signer, createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../../src-shared/identity';
import { parseInvite } from '../../../src-shared/invite';
import type { TrustRecord } from '../../../src-shared/ipc';
import { openConsole, type ConsoleEngine, type ConsoleHost, type OpenConsoleOptions, type TrustDecision } from '../../../src-renderer/engine/console';
import { MemoryWorkstreamStore } from '../../../src-renderer/engine/workstream/workstream-store';
import { nodePeerConnectionFactory } from '../../../src-agent/webrtc';
import { createNodeSocket } from '../../../src-agent/websocket';
import { until } from './until';

interface NodeConsole {
  identity: SecretIdentity;
  engine: ConsoleEngine;
  /** What the host's trust storage holds (saved by the engine's trust book). */
  trust: TrustRecord[];
  decisions: TrustDecision[];
}

let registries: RegistryHandle[] = [];
let consoles: NodeConsole[] = [];

afterEach(async () => {
  for (const c of consoles) c.engine.close();
  await Promise.all(registries.map((r) => r.close()));
  registries = [];
  consoles = [];
});

async function projectLink(): Promise<string> {
  const registry = await startTestRegistry();
  registries.push(registry);
  return (await registry.createInvite({ project: 'compose', ttlMs: 60_000 })).link;
}

/** A host as a Node agent implements it: secret keys here, only public parts and signatures out. */
function memoryHost(identity: SecretIdentity, trust: TrustRecord[]): ConsoleHost {
  const signEntry = createEd25519Signer(identity.signingSecretKey);
  return {
    identity: { peerId: identity.peerId, signingPublicKey: identity.signingPublicKey, boxPublicKey: identity.boxPublicKey, boxKeySignature: identity.boxKeySignature },
    signChallenge: (nonce) => ed25519Sign(identity.signingSecretKey, signedMessage('registryAuth', nonce)),
    certifySession: (body) => ed25519Sign(identity.signingSecretKey, signedMessage('sessionKey', body)),
    signEntry: (body) => signEntry(signedMessage('workstreamEntry', body)),
    loadTrust: async () => [...trust],
    saveTrust: async (records) => void trust.splice(0, trust.length, ...records),
  };
}

async function open(link: string, name: string, extra: Partial<OpenConsoleOptions> = {}): Promise<NodeConsole> {
  const identity = await createIdentity();
  const trust: TrustRecord[] = [];
  const engine = await openConsole(memoryHost(identity, trust), {
    invite: parseInvite(link),
    displayName: name,
    maxFileBytes: () => 64 * 1024 * 1024,
    store: new MemoryWorkstreamStore(),
    backoff: { baseMs: 200, maxMs: 1000 },
    createSocket: createNodeSocket,
    createPeerConnection: nodePeerConnectionFactory({ bindAddress: '127.0.0.1' }),
    ...extra,
  });
  const node: NodeConsole = { identity, engine, trust, decisions: [] };
  engine.on('trust', (d) => node.decisions.push(d));
  consoles.push(node);
  engine.start();
  return node;
}


const stateOf = (from: NodeConsole, to: NodeConsole) => from.engine.links.snapshot(to.identity.peerId)?.state;
/**
 * Linked, directly or over the relay: about one run in five libdatachannel refuses the answer on the
 * connection prepared ahead and the link goes direct only after the relay and a retry (see
 * engine-in-node.test.ts). What is tested here is the assembly, not the path.
 */
const linked = (from: NodeConsole, to: NodeConsole) => ['direct', 'relay'].includes(stateOf(from, to) ?? '');

describe('openConsole in Node', () => {
  it('links, pins each peer in the host’s trust storage, shares the workstream and tells peers how its links run', async () => {
    const link = await projectLink();
    const ada = await open(link, 'Ada');
    const bob = await open(link, 'Bob');
    expect(ada.engine.workstream).toBeDefined();
    await until('linked both ways', () => linked(ada, bob) && linked(bob, ada));

    // Trust on first use: each pinned the other, and the host's storage holds the pin.
    await until('pins saved', () => ada.trust.some((r) => r.peerId === bob.identity.peerId) && bob.trust.some((r) => r.peerId === ada.identity.peerId));
    expect(ada.decisions).toContainEqual({ peerId: bob.identity.peerId, trust: 'ok', verified: false });
    expect(ada.trust.find((r) => r.peerId === bob.identity.peerId)).toMatchObject({ displayName: 'Bob' });

    // The workstream runs on these links.
    const posted = await ada.engine.workstream!.post('message', { text: 'hello from Ada' });
    await until('Bob holds Ada’s entry', () => bob.engine.workstream!.log.entries().some((e) => e.id === posted.id));

    // link-states: Bob learns (within the 2 s sharing interval) how Ada's link to him runs, as Ada sees it.
    const mine = () => ada.engine.ownLinkStates().find((l) => l.peerId === bob.identity.peerId);
    const told = () => bob.engine.projectLinks()[ada.identity.peerId]?.find((l) => l.peerId === bob.identity.peerId);
    await until('Ada’s link to Bob, as told to Bob', () => told() && told()!.state === mine()?.state && told()!.path === mine()?.path, 8000);
    expect(told()).toMatchObject({ state: expect.stringMatching(/^(direct|relay)$/), path: expect.stringMatching(/^(host|registry-relay)$/) });
    expect(ada.engine.ownLinkStates()).toHaveLength(1);
  }, 60_000);

  it('holds back a known name with a new key until a person accepts it, then links', async () => {
    const link = await projectLink();
    const ada = await open(link, 'Ada');
    const bob = await open(link, 'Bob');
    await until('linked', () => linked(ada, bob));
    bob.engine.close();

    const impostor = await open(link, 'Bob'); // the same name, another key (a reinstall, or not Bob)
    const held = await until('a conflict decision', () => ada.decisions.find((d) => d.peerId === impostor.identity.peerId));
    expect(held).toMatchObject({ trust: 'conflict', status: { kind: 'conflict', previous: { peerId: bob.identity.peerId } } });
    await new Promise((r) => setTimeout(r, 1500));
    expect(linked(ada, impostor)).toBe(false);

    expect(ada.engine.accept(impostor.identity.peerId)).toBe(true);
    await until('linked once accepted', () => linked(ada, impostor) && linked(impostor, ada));
    expect(ada.trust.find((r) => r.peerId === impostor.identity.peerId)).toMatchObject({ displayName: 'Bob' });
  }, 60_000);

  it('reports the registry’s relay usage for a pair whose link runs over the relay', async () => {
    const link = await projectLink();
    const config = { linkConfig: { blockDirect: true, fallbackAfterMs: 1000 } };
    const ada = await open(link, 'Ada', config);
    const bob = await open(link, 'Bob', config);
    await until('relay both ways', () => stateOf(ada, bob) === 'relay' && stateOf(bob, ada) === 'relay');
    const reported: number[] = [];
    ada.engine.on('relay-usage', (u) => reported.push(u[bob.identity.peerId]?.pairBytes ?? 0));
    await ada.engine.workstream!.post('message', { text: 'over the relay' });
    await until('a relay usage report for the pair', () => reported.some((bytes) => bytes > 0), 10_000);
    expect(ada.engine.relayUsage()[bob.identity.peerId]?.pairBytes).toBeGreaterThan(0);
  }, 60_000);
});
