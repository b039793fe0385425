/**
 * Workstream benchmarks in Debian's Chromium against a real registry on loopback, each against a
 * baseline measured in the same run over the same links:
 *   workstream_entries_per_s_5_consoles   one console posts N entries (signed, stored, pushed);
 *                        time until all 5 other consoles hold them (verified, stored), vs the same
 *                        number of plain messages of the same size sent to each of the 5
 *   workstream_catchup_10k_s   a console joins a project whose log has 10,000 entries; time from
 *                        join until it holds them all, vs 10,000 plain messages over its open link
 */
import { it } from 'vitest';
import { chromium } from '@playwright/test';
import pino from 'pino';
import { createRegistry } from '../src-main/registry/registry';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { HARNESS_ROOT, buildHarness } from '../tests/support/harness';
import { WsConsole } from '../tests/support/workstream-console';
import { bootstrapInterval, median, recordResult } from './stats';

const QUICK = process.env.BENCH_QUICK === '1';
const ENTRIES = QUICK ? 200 : 1000;
const RECEIVERS = 5;
const CATCHUP = QUICK ? 2000 : 10_000;
const ROUNDS = QUICK ? 1 : 5;
const TEXT = 'x'.repeat(100); // a typical short message

/** Rounds alternate ours and the baseline, so round i of each is a pair for the interval. */
const interval = (ours: number[], raw: number[]) => (ROUNDS > 1 ? { interval: bootstrapInterval(ours, raw, (o, b) => median(o) / median(b)) } : {});

async function waitFor<T>(read: () => Promise<T | null>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('workstream', async () => {
  await buildHarness();
  const registry = await createRegistry({ webRoot: HARNESS_ROOT, logger: pino({ level: 'silent' }), limits: { maxPeersPerProject: 1000 } });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  try {
    // --- replication to 5 consoles ---------------------------------------------------------------
    {
      const { link } = await registry.createInvite({ project: 'bench-replication', ttlMs: 3_600_000 });
      const consoles = await Promise.all(Array.from({ length: RECEIVERS + 1 }, () => WsConsole.open(browser, registry.httpUrl)));
      for (const [i, c] of consoles.entries()) await c.join(link, `console-${i}`);
      const [writer, ...receivers] = consoles as [WsConsole, ...WsConsole[]];
      for (const c of consoles) await waitFor(async () => (Object.values(await c.call('linkStates')).filter((s) => s === 'direct').length === RECEIVERS ? true : null), 60_000);
      const ours: number[] = [];
      const raw: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const target = (round + 1) * ENTRIES;
        for (const r of receivers) await r.call('watchSize', target);
        let started = await writer.call('now');
        await writer.call('post', ENTRIES, TEXT);
        let done = Math.max(...(await Promise.all(receivers.map((r) => waitFor(() => r.call('sizeReachedAt'))))));
        ours.push(ENTRIES / ((done - started) / 1000));

        for (const r of receivers) {
          await r.call('resetRaw');
          await r.call('watchRaw', ENTRIES);
        }
        started = await writer.call('now');
        await Promise.all(receivers.map((r) => writer.call('sendRaw', r.peerId, ENTRIES, TEXT)));
        done = Math.max(...(await Promise.all(receivers.map((r) => waitFor(() => r.call('rawReachedAt'))))));
        raw.push(ENTRIES / ((done - started) / 1000));
      }
      recordResult('workstream_entries_per_s_5_consoles', median(ours), median(raw), 'entries/s', { ratio: 'ours/baseline', higherIsBetter: true, ...interval(ours, raw) });
      await Promise.all(consoles.map((c) => c.close()));
    }

    // --- catch-up on 10,000 entries -----------------------------------------------------------------
    {
      const { link } = await registry.createInvite({ project: 'bench-catchup', ttlMs: 3_600_000 });
      const holder = await WsConsole.open(browser, registry.httpUrl);
      await holder.join(link, 'holder');
      await holder.call('seed', CATCHUP, TEXT);
      const ours: number[] = [];
      const raw: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const late = await WsConsole.open(browser, registry.httpUrl); // a fresh browser context: empty IndexedDB
        await late.call('watchSize', CATCHUP);
        const started = await late.call('now');
        await late.join(link, `late-${round}`);
        const done = await waitFor(() => late.call('sizeReachedAt'));
        ours.push((done - started) / 1000);

        await late.call('resetRaw');
        await late.call('watchRaw', CATCHUP);
        const rawStarted = await holder.call('now');
        await holder.call('sendRaw', late.peerId, CATCHUP, TEXT);
        raw.push(((await waitFor(() => late.call('rawReachedAt'))) - rawStarted) / 1000);
        await late.close();
      }
      recordResult(`workstream_catchup_${CATCHUP / 1000}k_s`, median(ours), median(raw), 's', { ratio: 'ours/baseline', higherIsBetter: false, ...interval(ours, raw) });
      await holder.close();
    }
  } finally {
    await browser.close();
    await registry.close();
  }
}, 900_000);
