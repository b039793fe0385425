/**
 * Links on the registry relay across a registry restart (issue 14): consoles reconnect one by
 * one, with the GUI's backoff; each relayed link must carry on where it stopped.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { DEFAULT_BACKOFF } from '../../src-renderer/engine/backoff';
import { HARNESS_ROOT, buildHarness } from '../support/harness';
import { WsConsole } from '../support/workstream-console';

const silent = pino({ level: 'silent' });
let registry: RegistryHandle | undefined;
let consoles: WsConsole[] = [];

test.beforeAll(() => buildHarness());
test.afterEach(async () => {
  await Promise.all(consoles.map((c) => c.close()));
  consoles = [];
  await registry?.close();
  registry = undefined;
});

/** What each console's links say, printed when a test fails. */
async function linkReport(): Promise<string> {
  const lines: string[] = [];
  for (const x of consoles) {
    for (const s of await x.call('linkSnapshots')) {
      lines.push(`${x.peerId.slice(0, 4)} → ${s.peerId.slice(0, 4)} ${s.state}: sent ${s.messagesSent}, received ${s.messagesReceived}, resent ${s.retransmittedFrames}, duplicates ${s.duplicateFrames}`);
      for (const h of s.history.slice(-12)) lines.push(`    ${new Date(h.at).toISOString().slice(17, 23)} ${h.event} ${h.detail}`);
    }
  }
  return lines.join('\n');
}

test('three consoles on the registry relay: a post made while the registry is down reaches everyone within 3 s of presence returning, and a later one promptly', async ({ browser, pageNoise }) => {
  test.setTimeout(150_000);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const options = { webRoot: HARNESS_ROOT, logger: silent, inviteSecret: secret };
  registry = await createRegistry(options);
  const port = registry.port;
  pageNoise.allow(new RegExp(`WebSocket connection to 'ws://127\\.0\\.0\\.1:${port}/ws' failed: .*ERR_CONNECTION_REFUSED`), 'reconnecting while the registry is down');
  const { link } = await registry.createInvite({ project: 'relay-restart', ttlMs: 3_600_000 });
  consoles = await Promise.all([0, 1, 2].map(() => WsConsole.open(browser, registry!.httpUrl)));
  const [a, b, c] = consoles as [WsConsole, WsConsole, WsConsole];
  // As in the GUI with "Force this link through the registry relay", and the GUI's reconnect backoff.
  const config = { blockDirect: true, fallbackAfterMs: 500, directRetry: { baseMs: 600_000, maxMs: 600_000 } };
  for (const [x, name] of [[a, 'Ada'], [b, 'Bob'], [c, 'Cy']] as const) await x.join(link, name, { config, backoff: DEFAULT_BACKOFF });
  for (const x of consoles) await expect.poll(async () => Object.values(await x.call('linkStates')), { timeout: 30_000 }).toEqual(['relay', 'relay']);
  await a.call('post', 1, 'before');
  for (const x of consoles) await expect.poll(() => x.call('size'), { timeout: 20_000 }).toBe(1);

  await registry.close();
  await a.call('post', 1, 'during the outage');
  // Long enough for the backoff to spread the consoles' reconnects over several seconds.
  await new Promise((done) => setTimeout(done, 8_000));
  registry = await createRegistry({ ...options, port });
  const restarted = Date.now();
  await expect.poll(() => registry!.stats().consoles, { timeout: 40_000, intervals: [50] }).toBe(3);
  const present = Date.now();
  const received = await b.call('linkSnapshots');
  try {
    await expect.poll(async () => Math.min(await b.call('size'), await c.call('size')), { timeout: 3_000, intervals: [50] }).toBe(2);
  } catch (error) {
    console.log(await linkReport());
    throw error;
  }
  console.log(`all three back ${present - restarted} ms after the restart; the outage's post everywhere ${Date.now() - present} ms later`);
  // The links' counters move again.
  const after = await b.call('linkSnapshots');
  await expect.poll(async () => (await b.call('linkSnapshots')).map((s) => s.messagesReceived)).not.toEqual(after.map((s) => s.messagesReceived));
  expect(after.every((s, i) => s.messagesReceived >= received[i]!.messagesReceived)).toBe(true);

  const posted = Date.now();
  await b.call('post', 1, 'after');
  await expect.poll(async () => Math.min(await a.call('size'), await c.call('size')), { timeout: 3_000, intervals: [50] }).toBe(3);
  console.log(`a post after the reconnect arrived everywhere in ${Date.now() - posted} ms`);
  for (const x of consoles) expect(await x.call('problems')).toEqual([]);
});
