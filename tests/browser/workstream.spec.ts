import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { HARNESS_ROOT, buildHarness } from '../support/harness';
import { WsConsole } from '../support/workstream-console';

const silent = pino({ level: 'silent' });
let registry: RegistryHandle | undefined;
let consoles: WsConsole[] = [];
const MiB = 1024 * 1024;

test.beforeAll(() => buildHarness());
test.afterEach(async () => {
  await Promise.all(consoles.map((c) => c.close()));
  consoles = [];
  await registry?.close();
  registry = undefined;
});

async function start(project: string, count: number, browser: import('@playwright/test').Browser) {
  registry = await createRegistry({
    webRoot: HARNESS_ROOT,
    logger: silent,
    relayBudget: { pairBytesPerSecond: 1024 ** 3, projectBytesPerDay: 1024 ** 4 },
  });
  const { link } = await registry.createInvite({ project, ttlMs: 3_600_000 });
  consoles = await Promise.all(Array.from({ length: count }, () => WsConsole.open(browser, registry!.httpUrl)));
  return link;
}

const ids = (c: WsConsole) => c.call('ids');

test('a console that was offline catches up on 200 entries to the same log in the same order; one linked to a single console still gets everything', async ({ browser }) => {
  test.setTimeout(120_000);
  const link = await start('ws-catchup', 4, browser);
  const [a, b, c, d] = consoles as [WsConsole, WsConsole, WsConsole, WsConsole];
  await a.join(link, 'Ada');
  await b.join(link, 'Bob');
  await c.join(link, 'Cy');
  await a.call('post', 1, 'hello from ada');
  await expect.poll(() => c.call('size'), { timeout: 20_000 }).toBe(1);

  await c.call('leave'); // offline
  await Promise.all([a.call('post', 100, 'ada'), b.call('post', 100, 'bob')]);
  await expect.poll(() => a.call('size'), { timeout: 30_000 }).toBe(201);
  await expect.poll(() => b.call('size'), { timeout: 30_000 }).toBe(201);
  expect((await c.call('storedCheck', 'ws-catchup')).count).toBe(1); // offline: still only what it had

  await c.join(link, 'Cy'); // back, same identity, its log loaded from IndexedDB
  await expect.poll(() => c.call('size'), { timeout: 30_000 }).toBe(201);
  const order = await ids(a);
  expect(await ids(b)).toEqual(order);
  expect(await ids(c)).toEqual(order);

  // d admits a link to Ada only; everything reaches it through her, and so does what comes next.
  await d.join(link, 'Dee', { onlyLinkTo: [a.peerId] });
  await expect.poll(() => d.call('size'), { timeout: 30_000 }).toBe(201);
  await b.call('post', 5, 'bob later');
  await c.call('post', 5, 'cy later');
  await expect.poll(() => d.call('size'), { timeout: 30_000 }).toBe(211);
  expect(Object.keys(await d.call('linkStates'))).toEqual([a.peerId]);
  await expect.poll(() => a.call('size'), { timeout: 30_000 }).toBe(211);
  expect(await ids(d)).toEqual(await ids(a));
  for (const x of consoles) expect(await x.call('problems')).toEqual([]);
});

test('a forged entry, an equivocating author and a malformed entry are refused and reported on every console, and stored nowhere', async ({ browser }) => {
  test.setTimeout(90_000);
  const link = await start('ws-attacks', 4, browser);
  const [a, b, c, mallory] = consoles as [WsConsole, WsConsole, WsConsole, WsConsole];
  for (const [x, name] of [[a, 'Ada'], [b, 'Bob'], [c, 'Cy'], [mallory, 'Mallory']] as const) await x.join(link, name);
  await a.call('post', 1, 'hello');
  await expect.poll(() => mallory.call('size'), { timeout: 30_000 }).toBe(1);

  // Mallory tells Ada one story and Bob another under the same number, and sends everyone a
  // forged entry and a malformed one.
  await mallory.call('sendCrafted', a.peerId, 'ws-attacks', 1, 'I approve the release');
  await mallory.call('sendCrafted', b.peerId, 'ws-attacks', 1, 'I veto the release');
  for (const x of [a, b, c]) {
    await mallory.call('sendCrafted', x.peerId, 'ws-attacks', 2, 'forged');
    await mallory.call('sendCrafted', x.peerId, 'ws-attacks', 3, 'malformed');
  }
  for (const x of [a, b, c]) {
    // Ada and Bob are both linked with Mallory, so neither forwards her entry to the other: the
    // periodic hello (every 15 s) compares digests of her history and finds the two versions.
    await expect.poll(async () => (await x.call('problems')).map((p) => p.code).sort(), { timeout: 45_000 }).toEqual(['ENTRY_FORGED', 'EQUIVOCATION', 'MALFORMED_ENTRY']);
    expect(await x.call('equivocators')).toEqual([mallory.peerId]);
    // Ada's hello and one version of Mallory's entry 1; never the forged or malformed one.
    expect(await x.call('size')).toBe(2);
    expect((await x.call('storedCheck', 'ws-attacks')).count).toBe(2);
  }
});

test('a reload keeps the log, and a write interrupted by it leaves no partial entry', async ({ browser }) => {
  test.setTimeout(120_000);
  const link = await start('ws-reload', 2, browser);
  const [a, b] = consoles as [WsConsole, WsConsole];
  await a.join(link, 'Ada');
  await a.call('post', 3000, 'entry');
  await b.join(link, 'Bob');
  // Reload Bob while the 3000 entries are arriving and being written.
  await expect.poll(() => b.call('size'), { timeout: 30_000, intervals: [20] }).toBeGreaterThan(0);
  const before = await b.call('size');
  await b.page.reload();
  await b.page.waitForFunction(() => 'wsHarness' in window);
  const stored = await b.call('storedCheck', 'ws-reload');
  expect(stored.allValid).toBe(true);
  expect(stored.contiguous).toBe(true); // every batch whole or absent: no gap, no half entry
  expect(stored.count).toBeGreaterThanOrEqual(before);
  expect(stored.count).toBeLessThanOrEqual(3000);
  // Back (a new tab session, the same project database): it keeps what it had and gets the rest.
  await b.join(link, 'Bob again');
  expect(await b.call('size')).toBeGreaterThanOrEqual(stored.count);
  await expect.poll(() => b.call('size'), { timeout: 60_000 }).toBe(3000);
  expect(await ids(b)).toEqual(await ids(a));
});

test('a log stored in the earlier format (a record per entry, database version 1) is read after the upgrade, and kept across a reload', async ({ browser }) => {
  const link = await start('ws-upgrade', 2, browser);
  const [a, b] = consoles as [WsConsole, WsConsole];
  await b.join(link, 'Bob'); // Bob's identity signs the old entries (their author)
  const old = await b.page.evaluate(async () => {
    const h = (window as unknown as { wsHarness: import('./harness/workstream').WsHarness }).wsHarness;
    return Promise.all([1, 2].map(async (seq) => {
      const e = await h.craftEntry('ws-upgrade', seq, `old ${seq}`);
      return { b: [...e.b], s: [...e.s] };
    }));
  });
  // What an earlier version left in Ada's browser: database version 1, one record per entry.
  await a.page.evaluate(
    async ({ author, entries }) => {
      const open = indexedDB.open('wsp-workstream:ws-upgrade', 1);
      open.onupgradeneeded = () => {
        open.result.createObjectStore('entries', { keyPath: ['author', 'seq'] });
        open.result.createObjectStore('chunks');
      };
      const db = await new Promise<IDBDatabase>((resolve, reject) => ((open.onsuccess = () => resolve(open.result)), (open.onerror = () => reject(open.error))));
      const tx = db.transaction('entries', 'readwrite');
      entries.forEach((e, i) => tx.objectStore('entries').put({ author, seq: i + 1, b: new Uint8Array(e.b), s: new Uint8Array(e.s) }));
      await new Promise((resolve) => (tx.oncomplete = resolve));
      db.close();
    },
    { author: b.peerId, entries: old },
  );
  await a.join(link, 'Ada');
  await expect.poll(() => a.call('size'), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
  await a.call('postOne', 'new');
  await expect.poll(() => b.call('size'), { timeout: 20_000 }).toBe(3);
  await a.page.reload();
  await a.page.waitForFunction(() => 'wsHarness' in window);
  expect(await a.call('storedCheck', 'ws-upgrade')).toEqual({ count: 3, allValid: true, contiguous: true });
  await a.join(link, 'Ada');
  expect(await a.call('size')).toBe(3);
  expect(await ids(a)).toEqual(await ids(b));
});

test('a 100 MiB file: a download interrupted mid-way resumes from the last verified chunk, from another console that has it, to a verified file', async ({ browser }) => {
  test.setTimeout(240_000);
  const link = await start('ws-files', 3, browser);
  const [a, b, c] = consoles as [WsConsole, WsConsole, WsConsole];
  await a.join(link, 'Ada');
  await b.join(link, 'Bob');
  await c.join(link, 'Cy');
  const { entryId, sha } = await a.call('shareRandom', 100 * MiB, 'dataset.bin');
  await expect.poll(() => c.call('size'), { timeout: 30_000 }).toBe(1);
  await expect.poll(() => b.call('size'), { timeout: 30_000 }).toBe(1);

  await c.call('download', entryId);
  await expect.poll(async () => (await c.call('fileStatus', entryId))?.state, { timeout: 120_000 }).toBe('complete');
  expect(await c.call('fileSha', entryId)).toBe(sha);

  await b.call('download', entryId);
  await expect.poll(async () => (await b.call('fileStatus', entryId))?.bytes ?? 0, { timeout: 60_000, intervals: [100] }).toBeGreaterThan(30 * MiB);
  // Bob's link drops (he goes offline), and Ada leaves for good.
  await b.call('leave');
  await a.call('leave');
  await b.join(link, 'Bob');
  const resumedFrom = (await b.call('fileStatus', entryId))!.bytes;
  expect(resumedFrom).toBeGreaterThan(30 * MiB); // the verified chunks were kept
  // Nobody clicks Download again: the interrupted download carries on by itself.
  await expect.poll(async () => (await b.call('fileStatus', entryId))?.state, { timeout: 120_000 }).toBe('complete');
  expect(await b.call('fileSha', entryId)).toBe(sha);
  // Cy sent only what Bob lacked.
  const fromCy = (await c.call('fileStatus', entryId))!.uploads[b.peerId] ?? 0;
  expect(fromCy).toBeGreaterThan(0);
  expect(fromCy).toBeLessThanOrEqual(100 * MiB - resumedFrom + 4 * MiB);
  // Nothing went wrong beyond the interruption itself (the source lost, the first download closed).
  const problems = await b.call('problems');
  expect(problems.filter((p) => p.code !== 'FILE_SOURCE_LOST' && !(p.code === 'DOWNLOAD_FAILED' && p.message === 'closed'))).toEqual([]);
});

test('a file transfer over the registry relay works the same way, and a file over the size limit is refused with a message', async ({ browser }) => {
  test.setTimeout(120_000);
  const link = await start('ws-relay-files', 2, browser);
  const [a, b] = consoles as [WsConsole, WsConsole];
  await a.join(link, 'Ada');
  await b.join(link, 'Bob');
  await expect.poll(async () => Object.values(await a.call('linkStates')), { timeout: 20_000 }).toEqual(['direct']);
  await a.call('forceRelay', b.peerId, true);
  await expect.poll(async () => Object.values(await b.call('linkStates')), { timeout: 20_000 }).toEqual(['relay']);
  const { entryId, sha } = await a.call('shareRandom', 6 * MiB, 'over-relay.bin');
  await expect.poll(() => b.call('size'), { timeout: 30_000 }).toBe(1);
  await b.call('download', entryId);
  await expect.poll(async () => (await b.call('fileStatus', entryId))?.state, { timeout: 90_000 }).toBe('complete');
  expect(await b.call('fileSha', entryId)).toBe(sha);
  expect(Object.values(await b.call('linkStates'))).toEqual(['relay']);

  // Over the limit: refused when sharing, and when downloading, with a message that says why.
  await b.call('setMaxFileBytes', 1 * MiB);
  await expect(b.call('shareRandom', 2 * MiB, 'big.iso')).rejects.toThrow(/files over 1.0 MiB cannot be shared/);
  const { entryId: big } = await a.call('shareRandom', 2 * MiB, 'big.iso');
  await expect.poll(() => b.call('size'), { timeout: 30_000 }).toBe(2);
  await b.call('download', big);
  await expect.poll(async () => (await b.call('fileStatus', big))?.error ?? '', { timeout: 10_000 }).toMatch(/are not downloaded/);
});
