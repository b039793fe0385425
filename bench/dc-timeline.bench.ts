/**
 * Where the time of one 64 MiB DataChannel transfer goes, ours (PeerLink) against the raw
 * DataChannel of links.bench.ts, round by round: send() → first frame sent, the span of the
 * sends and of the arrivals, last arrival → delivered, and how many bufferedamountlow events the
 * sender saw. A diagnostic for the gap in datachannel_throughput (issue 19), not a benchmark with
 * a goal: it runs only with BENCH_DC_TIMELINE=1 (rounds: BENCH_DC_ROUNDS, default 4), e.g.
 *   BENCH_DC_TIMELINE=1 npm run bench -- --only dc-timeline
 * BENCH_DC_PROFILE=1 also records a CPU profile of both pages per transfer (.test-output/dc-timeline/).
 */
import { it } from 'vitest';
import { chromium, type Browser, type Page } from '@playwright/test';
import pino from 'pino';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRegistry, type RegistryHandle } from '../src-main/registry/registry';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../tests/support/harness';

const ENABLED = process.env.BENCH_DC_TIMELINE === '1';
const BULK = 64 * 1024 * 1024;
const CHUNK = 48 * 1024;
const ROUNDS = Number(process.env.BENCH_DC_ROUNDS) || 4;
const PROFILE = process.env.BENCH_DC_PROFILE === '1';
const PROFILE_DIR = '.test-output/dc-timeline';

const pair = (browser: Browser, registry: RegistryHandle) => Promise.all([0, 1].map(() => HarnessConsole.open(browser, registry.httpUrl)));

async function waitFor(check: () => Promise<boolean>, timeoutMs = 120_000, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Starts the page's sampling profiler; the returned function stops it and writes the profile. */
async function startProfile(page: Page): Promise<(name: string) => Promise<void>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  return async (name) => {
    const { profile } = await cdp.send('Profiler.stop');
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(`${PROFILE_DIR}/${name}.cpuprofile`, JSON.stringify(profile));
  };
}

async function timeline(label: string, sender: HarnessConsole, receiver: HarnessConsole, startedAt: number, endedAt: number): Promise<void> {
  const [s, r] = [await sender.call('transferTimes'), await receiver.call('transferTimes')];
  const ms = (x: number) => x.toFixed(1);
  console.log(
    `${label}: ${(BULK / 1024 ** 2 / ((endedAt - startedAt) / 1000)).toFixed(2)} MiB/s; send() → first frame sent ${ms(s.firstSend! - startedAt)} ms; ` +
      `${s.sends} sends over ${ms(s.lastSend - s.firstSend!)} ms, ${s.lowEvents} bufferedamountlow; ${r.arrivals} arrivals over ${ms(r.lastArrival - r.firstArrival!)} ms, ${r.smallSends} small messages back (ACKs); ` +
      `last arrival → delivered ${ms(endedAt - r.lastArrival)} ms`,
  );
}

it.skipIf(!ENABLED)('dc-timeline', async () => {
  await buildHarness();
  const registry = await createRegistry({ webRoot: HARNESS_ROOT, logger: pino({ level: 'silent' }), limits: { maxPeersPerProject: 1000 } });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const { link } = await registry.createInvite({ project: 'bench', ttlMs: 3_600_000 });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      {
        const [c, d] = await pair(browser, registry);
        const idC = await c!.join(link, 'C');
        const idD = await d!.join(link, 'D');
        await c!.waitForState(idD, ['direct']);
        await d!.waitForState(idC, ['direct']);
        await c!.call('watchTransfer', idD);
        await d!.call('watchTransfer', idC);
        const stop = PROFILE ? [await startProfile(c!.page), await startProfile(d!.page)] : [];
        const { hash, startedAt } = await c!.call('sendBlob', idD, BULK);
        await waitFor(async () => (await d!.call('received', idC)).blobs.includes(hash));
        await Promise.all(stop.map((s, i) => s(`ours-${round}-${i ? 'receiver' : 'sender'}`)));
        await timeline('ours', c!, d!, startedAt, await d!.call('receivedAt'));
        await Promise.all([c!.close(), d!.close()]);
      }
      {
        const [c, d] = await pair(browser, registry);
        const idC = await c!.join(link, 'C', {}, 'raw');
        await waitFor(async () => (await c!.call('registryState')) === 'connected', 30_000, 10);
        const idD = await d!.join(link, 'D', {}, 'raw');
        await waitFor(async () => (await d!.call('registryState')) === 'connected', 30_000, 10);
        await c!.call('rawOffer', idD);
        await waitFor(async () => (await c!.call('timing', idD)).open !== undefined && (await d!.call('timing', idC)).open !== undefined, 30_000, 10);
        await c!.call('watchTransfer', idD);
        await d!.call('watchTransfer', idC);
        const stop = PROFILE ? [await startProfile(c!.page), await startProfile(d!.page)] : [];
        const startedAt = await c!.call('now');
        await c!.call('rawSendBulk', idD, BULK, CHUNK);
        await waitFor(async () => (await d!.call('rawReceivedBytes')) >= BULK);
        await Promise.all(stop.map((s, i) => s(`raw-${round}-${i ? 'receiver' : 'sender'}`)));
        await timeline('raw ', c!, d!, startedAt, await d!.call('receivedAt'));
        await Promise.all([c!.close(), d!.close()]);
      }
    }
  } finally {
    await browser.close();
    await registry.close();
  }
}, 900_000);
