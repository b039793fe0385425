import { test, expect } from '../support/test';
import pino from 'pino';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, webConsoleScene } from '../support/web-console';
import { screenshots } from '../support/screenshots';
import { HARNESS_ROOT, buildHarness } from '../support/harness';
import { WsConsole } from '../support/workstream-console';

const silent = pino({ level: 'silent' });
const scene = webConsoleScene();

const log = (w: WebConsole) => w.page.getByTestId('workstream-log');
const openWorkstream = (w: WebConsole) => w.page.getByRole('tab', { name: 'Workstream' }).click();

test('two web consoles share a workstream: messages, a task from creation to done, status, a file with progress, filters, and a reload that keeps it all', async ({ browser }) => {
  test.setTimeout(120_000);
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await scene.registry.createInvite({ project: 'ws-gui', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  scene.consoles = [ada, bob];
  await ada.rename('Ada');
  await bob.rename('Bob');
  const adaId = await ada.peerId();
  await expect(ada.peerRow(await bob.peerId()).locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
  await openWorkstream(ada);
  await openWorkstream(bob);

  // A message, seen on the other console with its author's name.
  await ada.page.getByLabel('Message').fill('Build 1432 is green, merging the link refactor.');
  await ada.page.getByRole('button', { name: 'Post' }).click();
  const bobsView = log(bob).locator('li[data-kind="message"]');
  await expect(bobsView).toHaveCount(1, { timeout: 20_000 });
  await expect(bobsView).toContainText('Ada');
  await expect(bobsView).toContainText('Build 1432 is green');
  // ✓ means "you verified this author's key": not on an unverified teammate's entry, and one's own
  // entries say "(you)" instead.
  await expect(bobsView.locator('.meta')).not.toContainText('✓');
  await expect(bobsView.locator('.meta')).not.toContainText('(you)');
  await expect(log(ada).locator('li[data-kind="message"] .meta')).toContainText('Ada');
  await expect(log(ada).locator('li[data-kind="message"] .meta')).toContainText('(you)');
  await expect(log(ada).locator('li[data-kind="message"] .meta')).not.toContainText('✓');

  // A task: created by Bob, claimed and finished by Ada; both consoles see each step.
  await bob.page.getByLabel('New task').fill('Write the release notes');
  await bob.page.getByRole('button', { name: 'Create task' }).click();
  const adaTask = ada.page.locator('.tasks li', { hasText: 'Write the release notes' });
  await expect(adaTask).toBeVisible({ timeout: 20_000 });
  await adaTask.getByRole('button', { name: 'Claim' }).click();
  await expect(bob.page.locator('.tasks li', { hasText: 'Write the release notes' })).toHaveAttribute('data-state', 'claimed', { timeout: 20_000 });
  await expect(bob.page.locator('.tasks li', { hasText: 'Write the release notes' })).toContainText('by \u2068Ada\u2069');
  await adaTask.getByLabel('Progress of Write the release notes (%)').fill('40');
  await adaTask.getByRole('button', { name: 'Report progress' }).click();
  await expect(bob.page.locator('.tasks li', { hasText: 'Write the release notes' })).toContainText('40 %', { timeout: 20_000 });
  await adaTask.getByRole('button', { name: 'Done' }).click();
  await expect(bob.page.locator('.tasks li', { hasText: 'Write the release notes' })).toHaveCount(0, { timeout: 20_000 });
  await expect(log(bob).locator('li[data-kind="task"]')).toHaveCount(4, { timeout: 20_000 });

  // Status.
  await ada.page.getByLabel('My status').selectOption('blocked');
  await ada.page.getByLabel('Status note').fill('waiting for CI');
  await ada.page.getByRole('button', { name: 'Set status' }).click();
  await expect(log(bob).locator('li[data-kind="status"]')).toContainText('blocked: waiting for CI', { timeout: 20_000 });

  // A file: shared by Ada, downloaded by Bob with progress, saved, byte for byte the same.
  const content = Buffer.alloc(700 * 1024);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31 + 7) & 0xff;
  await ada.page.getByLabel('Share a file').setInputFiles({ name: 'trace.bin', mimeType: 'application/octet-stream', buffer: content });
  const bobsFile = log(bob).locator('li[data-kind="file"]');
  await expect(bobsFile).toContainText('trace.bin', { timeout: 20_000 });
  await bobsFile.getByRole('button', { name: 'Download' }).click();
  await expect(bobsFile.getByRole('button', { name: 'Save' })).toBeVisible({ timeout: 30_000 });
  const [download] = await Promise.all([bob.page.waitForEvent('download'), bobsFile.getByRole('button', { name: 'Save' }).click()]);
  expect(download.suggestedFilename()).toBe('trace.bin');
  expect(readFileSync((await download.path())!).equals(content)).toBe(true);
  await expect(log(ada).locator('li[data-kind="file"]')).toContainText(/sent 700 KiB to 1 console/, { timeout: 20_000 });

  // Filters: by kind, by author.
  await bob.page.getByLabel('Kind').selectOption('task');
  await expect(log(bob).locator('li')).toHaveCount(4, { timeout: 20_000 });
  await bob.page.getByLabel('Kind').selectOption('all');
  // Each author is named with the first group of their key fingerprint (two consoles may share a name).
  const adaTag = (await ada.fingerprint()).slice(0, 4);
  await bob.page.getByLabel('Author').selectOption({ label: `\u2068Ada\u2069 #${adaTag}` });
  await expect(log(bob).locator('li')).toHaveCount(6, { timeout: 20_000 }); // message, 3 task updates, status, file
  await expect(log(bob).locator('li', { hasText: 'Bob' })).toHaveCount(0);
  await bob.page.getByLabel('Author').selectOption('all');

  // The workstream view in both themes at both sizes, for the README.
  await screenshots(ada, 'workstream');

  // A reload keeps the log (and the downloaded file).
  await bob.page.reload();
  await openWorkstream(bob);
  await expect(bob.page.getByTestId('ws-count')).toHaveText('7 entries', { timeout: 20_000 });
  await expect(log(bob).locator('li[data-kind="file"]').getByRole('button', { name: 'Save' })).toBeVisible({ timeout: 20_000 });

  // Over the size limit: refused with a message.
  await ada.openDialog('Settings');
  await ada.page.getByLabel('Largest file to share or download (MiB)').fill('1');
  await ada.page.getByRole('button', { name: 'Save settings' }).click();
  await expect(ada.page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await ada.closeDialog();
  await ada.page.getByLabel('Share a file').setInputFiles({ name: 'huge.iso', mimeType: 'application/octet-stream', buffer: Buffer.alloc(2 * 1024 * 1024) });
  await expect(ada.page.getByRole('alert').filter({ hasText: 'huge.iso' })).toContainText('files over 1.0 MiB cannot be shared', { timeout: 20_000 });
  expect(adaId).toMatch(/^[a-z2-7]{26}$/);
});

test('messages written one after another without waiting (Ctrl+Enter) are all posted, in order; the box is ready for the next at once, and a draft begun during a post is kept', async ({ browser }) => {
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await scene.registry.createInvite({ project: 'ws-quick', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  scene.consoles = [ada, bob];
  await expect(ada.peerRow(await bob.peerId()).locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
  await openWorkstream(ada);
  await openWorkstream(bob);
  const box = ada.page.getByLabel('Message');
  const words = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];
  for (const word of words) {
    await box.fill(`quick ${word}`);
    await box.press('Control+Enter');
    await expect(box).toHaveValue(''); // emptied at once, not after the post is stored
  }
  // Newest first, on both consoles: none lost, none twice.
  const expected = [...words].reverse().map((w) => new RegExp(`quick ${w}$`));
  for (const c of [ada, bob]) await expect(log(c).locator('li[data-kind="message"] .text')).toHaveText(expected, { timeout: 20_000 });
  // A draft begun while the previous post is still being stored stays in the box (it used to be
  // emptied when the post finished, erasing what had been typed meanwhile). The post is held up by
  // a transaction on the log's store, as a busy disk would.
  await ada.page.evaluate(
    (p) =>
      new Promise<void>((resolve) => {
        const open = indexedDB.open(`wsp-workstream:${p}`);
        open.onsuccess = () => {
          const db = open.result;
          const store = db.transaction('log', 'readwrite').objectStore('log');
          const held = window as unknown as { releaseLog?: boolean };
          const spin = () => (held.releaseLog ? db.close() : (store.count().onsuccess = spin));
          spin();
          resolve();
        };
      }),
    'ws-quick',
  );
  await box.fill('posted');
  await box.press('Control+Enter');
  await box.fill('a draft, not posted yet');
  await ada.page.evaluate(() => ((window as unknown as { releaseLog?: boolean }).releaseLog = true));
  await expect(log(bob).locator('li[data-kind="message"] .text').first()).toHaveText(/posted$/, { timeout: 20_000 });
  await expect(log(ada).locator('li[data-kind="message"] .text').first()).toHaveText(/posted$/, { timeout: 20_000 });
  await expect(box).toHaveValue('a draft, not posted yet');
});

test('a console renamed while directly linked keeps its link: messages arrive both ways', async ({ browser }) => {
  // Found by CI when a rename rejoined: while it kept its session, the peer's still-direct link
  // refused the new links' signaling as replays and waited on the old stream, so posts never
  // arrived. A rename is now a presence update: the session and its links stay.
  test.setTimeout(90_000);
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent });
  const { link } = await scene.registry.createInvite({ project: 'ws-rename', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  scene.consoles = [ada, bob];
  const [adaId, bobId] = [await ada.peerId(), await bob.peerId()];
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
  await expect(bob.peerRow(adaId).locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
  await bob.rename('Bob');
  await expect(ada.peerRow(bobId)).toContainText('Bob', { timeout: 20_000 });
  await expect(ada.peerRow(bobId).locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
  await openWorkstream(ada);
  await openWorkstream(bob);
  await ada.page.getByLabel('Message').fill('after the rename');
  await ada.page.getByRole('button', { name: 'Post' }).click();
  await expect(log(bob).locator('li[data-kind="message"]')).toContainText('after the rename', { timeout: 20_000 });
  await bob.page.getByLabel('Message').fill('heard you');
  await bob.page.getByRole('button', { name: 'Post' }).click();
  await expect(log(ada).locator('li[data-kind="message"]', { hasText: 'heard you' })).toHaveCount(1, { timeout: 20_000 });
});

test('on the registry relay, a post made while the registry is down says it is not yet delivered, and arrives once the registry is back', async ({ browser, pageNoise }) => {
  test.setTimeout(120_000);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent, inviteSecret: secret });
  const port = scene.registry.port;
  pageNoise.expect(new RegExp(`WebSocket connection to 'ws://127\\.0\\.0\\.1:${port}/ws' failed: .*ERR_CONNECTION_REFUSED`), 'the consoles retry while the registry is down');
  const { link } = await scene.registry.createInvite({ project: 'ws-outage', ttlMs: 3_600_000 });
  const ada = await WebConsole.open(browser, link);
  const bob = await WebConsole.open(browser, link);
  scene.consoles = [ada, bob];
  await bob.rename('Bob');
  const bobId = await bob.peerId();
  await expect(ada.peerRow(bobId)).toContainText('Bob', { timeout: 20_000 });
  await ada.peerRow(bobId).click();
  await ada.page.getByLabel('Force this link through the registry relay (diagnostics)').check();
  for (const w of scene.consoles) await expect(w.page.getByTestId('relay-warning')).toBeVisible({ timeout: 20_000 });
  // The quiet relay line (only keepalives and a few posts: no loud warning) gives each relayed peer's rate.
  const banner = ada.page.getByTestId('relay-warning').locator(`[data-peer-id="${bobId}"]`);
  await expect(banner).toContainText(/\d \S*B\/s\)$/, { timeout: 20_000 });
  await openWorkstream(ada);
  await openWorkstream(bob);
  const own = (text: string) => log(ada).locator('li[data-kind="message"]', { hasText: text });

  await ada.page.getByLabel('Message').fill('before the outage');
  await ada.page.getByRole('button', { name: 'Post' }).click();
  await expect(log(bob).locator('li[data-kind="message"]', { hasText: 'before the outage' })).toHaveCount(1, { timeout: 20_000 });
  await expect(own('before the outage').getByTestId('undelivered')).toHaveCount(0);

  await scene.registry.close();
  await expect(ada.status()).toHaveAttribute('data-phase', 'reconnecting');
  await ada.page.getByLabel('Message').fill('during the outage');
  await ada.page.getByRole('button', { name: 'Post' }).click();
  await expect(own('during the outage').getByTestId('undelivered')).toHaveText(/^sending… not yet delivered to 1 \(\u2068Bob\u2069 #[a-z2-7]{4}\)$/);
  // No relay traffic now: the banner does not go on showing the last rate.
  await expect(banner).toContainText('idle now', { timeout: 10_000 });

  scene.registry = await createRegistry({ webRoot: WEB_ROOT, logger: silent, inviteSecret: secret, port });
  for (const w of scene.consoles) await w.expectConnected();
  const back = Date.now();
  await expect(log(bob).locator('li[data-kind="message"]', { hasText: 'during the outage' })).toHaveCount(1, { timeout: 5_000 });
  await expect(own('during the outage').getByTestId('undelivered')).toHaveCount(0, { timeout: 5_000 });
  console.log(`the outage's post reached Bob and was confirmed ${Date.now() - back} ms after both were back`);
  await expect(banner).toContainText(/\d \S*B\/s\)$/, { timeout: 10_000 });
});

test('a member who sends entries dated beyond any clock does not break anyone’s Workstream view: refused and reported, everything else shown, also after a reload', async ({ browser }) => {
  // Found by a probe: one entry dated 8.7e15 (past what a Date holds) blanked every console's
  // Workstream panel, and kept it blank after reload (it was stored). Mallory here is a console
  // that signs whatever it likes (the test harness, served beside the web console).
  test.setTimeout(120_000);
  await buildHarness();
  const root = mkdtempSync(join(tmpdir(), 'wsp-web-and-harness-'));
  cpSync(WEB_ROOT, root, { recursive: true });
  cpSync(HARNESS_ROOT, join(root, 'harness'), { recursive: true });
  let mallory: WsConsole | undefined;
  try {
    scene.registry = await createRegistry({ webRoot: root, logger: silent });
    const project = 'ws-hostile';
    const { link } = await scene.registry.createInvite({ project, ttlMs: 3_600_000 });
    const ada = await WebConsole.open(browser, link);
    scene.consoles = [ada];
    mallory = await WsConsole.open(browser, `${scene.registry.httpUrl}/harness`);
    const malloryId = await mallory.join(link, 'Mallory');
    await expect(ada.peerRow(malloryId).locator('[data-col="state"]')).toHaveText(/direct/, { timeout: 30_000 });
    await openWorkstream(ada);
    const post = async (text: string) => {
      await ada.page.getByLabel('Message').fill(text);
      await ada.page.getByRole('button', { name: 'Post' }).click();
    };
    await post('Ada: before');
    await mallory.call('post', 1, 'Mallory: on time'); // her entry 1
    await expect(log(ada).locator('li', { hasText: 'Mallory: on time 0' })).toContainText('Mallory', { timeout: 20_000 });

    // Entry 2 dated past what a Date holds (the probe's), then entry 2 dated in the year 274,000,
    // then entry 3 on time: the first is malformed, the second too far ahead of Ada's clock, and
    // the third waits behind it (an author's entries are taken in order).
    const adaId = await ada.peerId();
    await mallory.call('sendCrafted', adaId, project, 2, 'dated 8.7e15', 8.7e15);
    await mallory.call('sendCrafted', adaId, project, 2, 'dated 8.6e15', 8.6e15);
    await mallory.call('sendCrafted', adaId, project, 3, 'after the far future');
    const problems = ada.page.getByTestId('workstream-problems');
    await expect(problems).toContainText('2 refused entries', { timeout: 20_000 });
    await expect(problems).toContainText('MALFORMED_ENTRY');
    await expect(problems).toContainText(/ENTRY_AHEAD .*entry 2 is dated .*years ahead of this console's clock.*\(from \u2068Mallory\u2069 #[a-z2-7]{4}\)/);
    await post('Ada: after');
    const expectView = async () => {
      await expect(ada.page.getByTestId('ws-count')).toHaveText('3 entries', { timeout: 20_000 });
      await expect(log(ada).locator('li')).toHaveText([/Ada: after/, /Mallory: on time 0/, /Ada: before/]);
    };
    await expectView();

    // An earlier version stored such an entry: it must not blank the view after a reload either.
    const stored = await mallory.page.evaluate(
      async ([p]) => {
        const e = await (window as unknown as { wsHarness: import('./harness/workstream').WsHarness }).wsHarness.craftEntry(p!, 2, 'stored before the fix', 8.7e15);
        return { b: [...e.b], s: [...e.s] };
      },
      [project],
    );
    await ada.page.evaluate(
      async ({ p, author, b, s }) => {
        const open = indexedDB.open(`wsp-workstream:${p}`);
        const db = await new Promise<IDBDatabase>((resolve, reject) => ((open.onsuccess = () => resolve(open.result)), (open.onerror = () => reject(open.error))));
        const tx = db.transaction('entries', 'readwrite');
        tx.objectStore('entries').put({ author, seq: 2, b: new Uint8Array(b), s: new Uint8Array(s) });
        await new Promise((resolve) => (tx.oncomplete = resolve));
        db.close();
      },
      { p: project, author: malloryId, ...stored },
    );
    await ada.page.reload();
    await openWorkstream(ada);
    await expectView();
  } finally {
    await mallory?.close();
    rmSync(root, { recursive: true, force: true });
  }
});
