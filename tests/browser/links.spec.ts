import { test, expect } from '@playwright/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../support/harness';

const silent = pino({ level: 'silent' });
let registry: RegistryHandle | undefined;
let consoles: HarnessConsole[] = [];

test.beforeAll(buildHarness);
test.afterEach(async () => {
  await Promise.all(consoles.map((c) => c.close()));
  consoles = [];
  await registry?.close();
  registry = undefined;
});


test('three consoles form a full mesh of direct links; every message arrives once, in order', async ({ browser }) => {
  registry = await createRegistry({ webRoot: HARNESS_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'links', ttlMs: 3_600_000 });
  consoles = await Promise.all([0, 1, 2].map(() => HarnessConsole.open(browser, registry!.httpUrl)));
  const ids = await Promise.all(consoles.map((c, i) => c.join(link, `console-${i}`)));

  for (const c of consoles) for (const id of ids) if (id !== c.peerId) await c.waitForState(id, ['direct']);
  const snapshot = await consoles[0]!.call('snapshot', ids[1]!);
  expect(snapshot?.path?.kind).toBe('host');

  const N = 200;
  await Promise.all(consoles.flatMap((c) => ids.filter((id) => id !== c.peerId).map((id) => c.call('sendSeq', id, 1, N, 'x'.repeat(100)))));
  for (const c of consoles) {
    for (const id of ids.filter((id) => id !== c.peerId)) {
      await expect.poll(async () => (await c.call('received', id)).count).toBe(N);
      expect((await c.call('received', id)).seqs).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    }
  }
  expect(await consoles[0]!.call('errors')).toEqual([]);
});

test('glare: two consoles that offer at the same instant always end with one working link', async ({ browser }) => {
  registry = await createRegistry({ webRoot: HARNESS_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'glare', ttlMs: 3_600_000 });
  const [a, b] = (consoles = await Promise.all([0, 1].map(() => HarnessConsole.open(browser, registry!.httpUrl))));
  for (let round = 0; round < 5; round++) {
    // Both join at once: each sees the other and offers immediately.
    const [idA, idB] = await Promise.all([a!.join(link, 'A'), b!.join(link, 'B')]);
    await a!.waitForState(idB, ['direct']);
    await b!.waitForState(idA, ['direct']);
    await a!.call('sendSeq', idB, 1, 3);
    await expect.poll(async () => (await b!.call('received', idA)).seqs).toEqual([1, 2, 3]);
    const history = (await a!.call('snapshot', idB))!.history.map((h) => h.event);
    expect(history.filter((e) => e === 'datachannel-open')).toHaveLength(1);
    await Promise.all([a!.call('leave'), b!.call('leave')]);
  }
});

test('a 64 MiB message arrives intact while the DataChannel buffer stays bounded', async ({ browser }) => {
  test.setTimeout(120_000);
  registry = await createRegistry({ webRoot: HARNESS_ROOT, logger: silent });
  const { link } = await registry.createInvite({ project: 'bulk', ttlMs: 3_600_000 });
  const [a, b] = (consoles = await Promise.all([0, 1].map(() => HarnessConsole.open(browser, registry!.httpUrl))));
  const [idA, idB] = await Promise.all([a!.join(link, 'A'), b!.join(link, 'B')]);
  await a!.waitForState(idB, ['direct']);
  const started = Date.now();
  const hash = await a!.call('sendBlob', idB, 64 * 1024 * 1024);
  const queued = Date.now();
  await expect.poll(async () => (await b!.call('received', idA)).blobs, { timeout: 90_000 }).toEqual([hash]);
  const s = (await a!.call('snapshot', idB))!;
  console.log(`64 MiB: queued after ${queued - started} ms, delivered after ${Date.now() - started} ms; retransmitted ${s.retransmittedFrames}, rtt ${s.rttMs}`);
  // High-water mark (1 MiB) plus at most one stream frame (48 KiB + header).
  expect(await a!.call('maxBufferedAmount')).toBeLessThanOrEqual(1024 * 1024 + 48 * 1024 + 64);
  expect(await a!.call('maxBufferedAmount')).toBeGreaterThan(0);
});
