/**
 * Registry benchmarks: what one console costs the registry to admit, and what the registry adds
 * to a signaling message. Medians over many runs, each against a baseline from the same run.
 */
import { it } from 'vitest';
import { WebSocketServer, WebSocket } from 'ws';
import pino from 'pino';
import nacl from 'tweetnacl';
import { createRegistry } from '../src-main/registry/registry';
import { createIdentity, ed25519Sign, ed25519Verify, signedMessage } from '../src-shared/identity';
import { TestClient } from '../tests/support/registry-client';
import { startTapProxy } from '../tests/support/tap-proxy';
import { bootstrapInterval, median, recordResult } from './stats';
import { SignalingClient } from '../src-renderer/engine/signaling-client';
import { createNodeSocket } from '../src-agent/websocket';
import { redisAvailable, startRedis } from '../tests/support/redis-server';

const QUICK = process.env.BENCH_QUICK === '1';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 40 : 200));

it('registry', async () => {

  // 1. Signature verification: native WebCrypto Ed25519 (used) vs tweetnacl (baseline).
  const id = await createIdentity();
  const message = signedMessage('registryAuth', crypto.getRandomValues(new Uint8Array(32)));
  const signature = await ed25519Sign(id.signingSecretKey, message);
  const time = async (fn: () => unknown | Promise<unknown>, n: number) => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      await fn();
      samples.push(performance.now() - start);
    }
    return median(samples);
  };
  const naclVerify = await time(() => nacl.sign.detached.verify(message, signature, id.signingPublicKey), Math.min(ROUNDS, 60));
  const nativeVerify = await time(() => ed25519Verify(id.signingPublicKey, message, signature), ROUNDS);
  recordResult('ed25519_verify', nativeVerify, naclVerify, 'ms (baseline: tweetnacl)');

  // 2. Join: WebSocket open → welcome, including invite check and key proof.
  const registry = await createRegistry({ logger: pino({ level: 'silent' }), limits: { maxPeersPerProject: ROUNDS + 10, framesPerSecond: 1e6, burst: 1e6 } });
  const { token } = await registry.createInvite({ project: 'bench', ttlMs: 3_600_000 });
  const identities = await Promise.all(Array.from({ length: ROUNDS }, () => createIdentity()));
  const joinTimes: number[] = [];
  const openTimes: number[] = [];
  for (const identity of identities.slice(0, ROUNDS / 2)) {
    // Baseline: a bare WebSocket open + close on the same server.
    let start = performance.now();
    const bare = new WebSocket(registry.url);
    await new Promise((resolve) => bare.once('message', resolve)); // the challenge
    openTimes.push(performance.now() - start);
    bare.terminate();
    start = performance.now();
    const client = await TestClient.join(registry.url, token, { identity });
    joinTimes.push(performance.now() - start);
    client.ws.terminate();
  }
  const open = median(openTimes);
  const join = median(joinTimes);
  recordResult('registry_join', join, open, 'ms (baseline: bare WebSocket open)');

  // 2b. Admission over a link with a round trip of 50 ms (a registry across a city): the console's
  // own SignalingClient, start() → welcome, with its hello sent with the upgrade (early hello, one
  // registry turn) against the same client answering the challenge (two turns). Alternating.
  const ONE_WAY_MS = 25;
  const delayed = await startTapProxy(Number(new URL(registry.url).port), { delayMs: ONE_WAY_MS });
  const wanUrl = `ws://127.0.0.1:${delayed.port}/ws`;
  const admit = async (early: boolean) => {
    const id = await createIdentity();
    const client = new SignalingClient({
      url: wanUrl,
      invite: token,
      displayName: 'bench',
      signingPublicKey: id.signingPublicKey,
      boxPublicKey: id.boxPublicKey,
      boxKeySignature: id.boxKeySignature,
      signChallenge: (nonce) => ed25519Sign(id.signingSecretKey, signedMessage('registryAuth', nonce)),
      ...(early ? { signEarlyHello: (payload: Uint8Array) => ed25519Sign(id.signingSecretKey, signedMessage('registryHello', payload)) } : {}),
      createSocket: createNodeSocket,
    });
    const welcomed = new Promise((resolve) => client.on('welcome', resolve));
    const start = performance.now();
    client.start();
    await welcomed;
    const ms = performance.now() - start;
    client.stop();
    return ms;
  };
  const WAN_ROUNDS = QUICK ? 6 : 20;
  const earlyTimes: number[] = [];
  const challengeTimes: number[] = [];
  for (let i = 0; i < WAN_ROUNDS; i++) {
    earlyTimes.push(await admit(true));
    challengeTimes.push(await admit(false));
  }
  await delayed.close();
  recordResult('registry_join_rtt50_early_hello', median(earlyTimes), median(challengeTimes), 'ms start → welcome over a 50 ms round trip (baseline: the same console answering the challenge)', {
    interval: bootstrapInterval(earlyTimes, challengeTimes, (o, b) => median(o) / median(b)),
  });

  // 3. Signaling relay latency A → registry → B, against a bare ws forwarder on the same machine.
  const a = await TestClient.join(registry.url, token, { identity: identities[ROUNDS - 1] });
  const b = await TestClient.join(registry.url, token, { identity: identities[ROUNDS - 2] });
  const payload = new Uint8Array(600); // about an SDP's size
  const relayTimes: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const from = b.frames.length;
    const start = performance.now();
    a.send({ type: 'webrtc_ice_candidate', to_peer_id: b.identity.peerId, payload });
    await b.waitFor((f) => f.type === 'webrtc_ice_candidate', 5000, from);
    relayTimes.push(performance.now() - start);
  }
  const forwarder = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => forwarder.once('listening', resolve));
  const sockets: WebSocket[] = [];
  forwarder.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (data) => sockets.find((s) => s !== ws)?.send(data));
  });
  const port = (forwarder.address() as { port: number }).port;
  const [x, y] = [new WebSocket(`ws://127.0.0.1:${port}`), new WebSocket(`ws://127.0.0.1:${port}`)];
  await Promise.all([x, y].map((s) => new Promise((resolve) => s.once('open', resolve))));
  const bareTimes: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    x.send(payload);
    await new Promise((resolve) => y.once('message', resolve));
    bareTimes.push(performance.now() - start);
  }
  const relay = median(relayTimes);
  const bare = median(bareTimes);
  recordResult('registry_signal_relay', relay, bare, 'ms (baseline: bare ws forwarder)');

  x.terminate();
  y.terminate();
  forwarder.close();
  a.ws.terminate();
  b.ws.terminate();
  await registry.close();

  // 4. Scale-out on Redis: what --redis costs one instance, and what crossing instances adds.
  if (!redisAvailable()) {
    console.warn('redis-server not installed: scale-out benchmarks skipped');
    return;
  }
  const redis = await startRedis();
  try {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    // No rate limit and room to queue: the benchmark floods on purpose.
    const fast = { maxPeersPerProject: 1000, framesPerSecond: 1e6, burst: 1e6, maxQueuedBytes: 1e9, floodTolerance: 1e9 };
    const plain = await createRegistry({ logger: pino({ level: 'silent' }), inviteSecret: secret, limits: fast });
    const [one, two] = [
      await createRegistry({ logger: pino({ level: 'silent' }), inviteSecret: secret, limits: fast, redis: redis.url }),
      await createRegistry({ logger: pino({ level: 'silent' }), inviteSecret: secret, limits: fast, redis: redis.url }),
    ];
    const FRAMES = QUICK ? 2000 : 10_000;
    const rate = async (from: string, to: string) => {
      const sender = await TestClient.join(from, token, {});
      const receiver = await TestClient.join(to, token, {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      let count = 0;
      const done = new Promise<void>((resolve) => receiver.ws.on('message', () => ++count >= FRAMES && resolve()));
      const start = performance.now();
      for (let i = 0; i < FRAMES; i++) sender.send({ type: 'webrtc_ice_candidate', to_peer_id: receiver.identity.peerId, payload });
      await done;
      const perSecond = FRAMES / ((performance.now() - start) / 1000);
      sender.ws.terminate();
      receiver.ws.terminate();
      return perSecond;
    };
    const { token } = await plain.createInvite({ project: 'bench', ttlMs: 3_600_000 });
    const withoutRedis: number[] = [];
    const withRedis: number[] = [];
    const crossInstance: number[] = [];
    for (let round = 0; round < 3; round++) {
      withoutRedis.push(await rate(plain.url, plain.url));
      withRedis.push(await rate(one.url, one.url));
      crossInstance.push(await rate(one.url, two.url));
    }
    recordResult('registry_frames_per_s_redis', median(withRedis), median(withoutRedis), 'frames/s (baseline: same instance without --redis)');
    recordResult('registry_cross_instance_frames_per_s', median(crossInstance), median(withoutRedis), 'frames/s (baseline: one instance without --redis)');

    // Latency: A on one instance, B on the other, against both on one instance.
    const latency = async (from: string, to: string) => {
      const p = await TestClient.join(from, token, {});
      const q = await TestClient.join(to, token, {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      const samples: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const arrived = new Promise((resolve) => q.ws.once('message', resolve));
        const start = performance.now();
        p.send({ type: 'webrtc_ice_candidate', to_peer_id: q.identity.peerId, payload });
        await arrived;
        samples.push(performance.now() - start);
      }
      p.ws.terminate();
      q.ws.terminate();
      return median(samples);
    };
    const same = await latency(one.url, one.url);
    const cross = await latency(one.url, two.url);
    recordResult('registry_cross_instance_p50_ms', cross - same, same, 'ms added by crossing instances (baseline: same-instance p50)');
    await Promise.all([plain.close(), one.close(), two.close()]);
  } finally {
    await redis.stop();
  }
});
