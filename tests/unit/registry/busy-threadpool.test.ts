/**
 * A console's admission does not wait for Node's threadpool. The registry checked the invite's
 * HMAC and the hello's two Ed25519 signatures through WebCrypto, which Node runs as threadpool
 * jobs: each hello waited for a free pool thread, behind whatever else the pool was doing, and on
 * a loaded machine for the scheduler at every hop (docs/BENCHMARKS.md, "Burst"). Here every pool
 * thread is busy with a long job while a console says hello: it must be welcomed before any of them ends.
 */
import { afterEach, expect, it } from 'vitest';
import { pbkdf2 } from 'node:crypto';
import pino from 'pino';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createRegistry, type RegistryHandle } from '../../../src-main/registry/registry';
import { TestClient } from '../../support/registry-client';
import { createIdentity, signedMessage } from '../../../src-shared/identity';
import { PROTOCOL_VERSION, type ServerFrame } from '../../../src-shared/protocol/signaling';

let registry: RegistryHandle | undefined;
let client: TestClient | undefined;

afterEach(async () => {
  client?.ws.close();
  await registry?.close();
});

it('welcomes a console while every threadpool thread is busy', async () => {
  registry = await createRegistry({ logger: pino({ level: 'silent' }) });
  const { token } = await registry.createInvite({ project: 'team', ttlMs: 60_000 });
  const identity = await createIdentity();
  client = await TestClient.open(registry.url, identity);
  const challenge = (await client.waitFor((f) => f.type === 'challenge')) as Extract<ServerFrame, { type: 'challenge' }>;
  // Signed here without WebCrypto, so that the client itself needs no pool thread.
  const nonceSig = ed25519.sign(signedMessage('registryAuth', challenge.nonce), identity.signingSecretKey.subarray(0, 32));

  // Every thread of the pool (4 unless UV_THREADPOOL_SIZE says otherwise) on a job of ~a second or more.
  /** When the first of them ended: from then on a thread is free. */
  let threadFreeAt = Infinity;
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const jobs = Array.from({ length: threads }, () => new Promise<void>((done) => pbkdf2('password', 'salt', 1_000_000, 64, 'sha512', () => done())));
  const busy = Promise.race(jobs).then(() => void (threadFreeAt = performance.now()));

  const sentAt = performance.now();
  client.send({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    invite: token,
    display_name: 'A',
    signing_key: identity.signingPublicKey,
    box_key: identity.boxPublicKey,
    box_key_sig: identity.boxKeySignature,
    nonce_sig: nonceSig,
  });
  const answer = await client.waitFor((f) => f.type === 'welcome' || f.type === 'error', 30_000);
  const welcomedAt = performance.now();
  expect(answer.type).toBe('welcome');
  await busy;
  expect(welcomedAt - sentAt).toBeLessThan(threadFreeAt - sentAt);
  await Promise.all(jobs);
}, 60_000);
