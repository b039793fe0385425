/**
 * Link benchmarks in Debian's Chromium against a real registry on loopback, each against a
 * baseline measured in the same run on the same browser:
 *   link_setup_p50/p95   first offer → DataChannel open on both sides, over N links,
 *                        vs a minimal hand-written RTCPeerConnection exchange over the same registry
 *                        (each side's connection made ahead, as the engine's are: the offerer's
 *                        before the offer is sent, the answerer's when it joins; since issue 19 —
 *                        before, the baseline's answerer made its connection when the offer came)
 *   datachannel_throughput  one 64 MiB message through PeerLink vs a raw DataChannel
 *                        (same chunk size, same bufferedAmount flow control)
 *   relay_throughput     PeerLink relayed (sealed, reliable stream) vs unsealed relay frames
 *                        through the same registry, its relay budget raised to 1 GiB/s and its
 *                        backlog to 256 MiB (so the naive baseline, which cannot resend, loses
 *                        nothing); median of 3 rounds, alternating
 *   relay_throughput_defaults  the same PeerLink transfer through a registry with the product's
 *                        defaults (a pair may relay 2 MiB/s, a 1 MiB backlog per console), against
 *                        the same rounds' baseline: there the pair budget is the limit, by design
 */
import { it } from 'vitest';
import { chromium, type Browser } from '@playwright/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../src-main/registry/registry';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../tests/support/harness';
import { bootstrapInterval, median, percentile, recordResult } from './stats';

const QUICK = process.env.BENCH_QUICK === '1';
const SETUP_LINKS = QUICK ? 6 : 30;
const BULK_BYTES = (QUICK ? 8 : 64) * 1024 * 1024;
const RELAY_BYTES = (QUICK ? 2 : 16) * 1024 * 1024;
const CHUNK = 48 * 1024;
const RELAY_ROUNDS = QUICK ? 1 : 3;
/** BENCH_ONLY=setup runs only the setup benchmark (for quick iterations on negotiation); =throughput only the DataChannel throughput. */
const ONLY_SETUP = process.env.BENCH_ONLY === 'setup';
const ONLY_THROUGHPUT = process.env.BENCH_ONLY === 'throughput';
/** DataChannel throughput rounds (each ours then raw); BENCH_DC_ROUNDS raises it for a tighter interval. */
const DC_ROUNDS = Number(process.env.BENCH_DC_ROUNDS) || (QUICK ? 1 : 3);
/** BENCH_SCTP_STATS=1: print each throughput transfer's WebRTC statistics (sender and receiver), for looking into the gap to the raw DataChannel. */
const SCTP_STATS = process.env.BENCH_SCTP_STATS === '1';

/** Sums what a transfer put on the wire: sender and receiver transport, data channel and candidate pair, as one line. */
async function wireSummary(label: string, sender: HarnessConsole, receiver: HarnessConsole, to: string, from: string, seconds: number): Promise<void> {
  const [out, back] = [await sender.call('transportStats', to), await receiver.call('transportStats', from)];
  const pick = (reports: Array<Record<string, unknown>>, type: string) => reports.filter((r) => r.type === type);
  const num = (r: Record<string, unknown> | undefined, key: string) => Number(r?.[key] ?? NaN);
  const transport = pick(out, 'transport')[0];
  const channel = pick(out, 'data-channel').find((c) => num(c, 'bytesSent') > 1e6);
  const backChannel = pick(back, 'data-channel').find((c) => num(c, 'bytesReceived') > 1e6);
  const pair = pick(out, 'candidate-pair').find((p) => p.nominated || p.state === 'succeeded');
  const sctp = pick(out, 'sctp-transport')[0];
  console.log(
    `${label}: ${seconds.toFixed(2)} s; sender transport ${num(transport, 'bytesSent')} B in ${num(transport, 'packetsSent')} packets ` +
      `(${(num(transport, 'bytesSent') / num(transport, 'packetsSent')).toFixed(0)} B each), received ${num(transport, 'bytesReceived')} B in ${num(transport, 'packetsReceived')} packets; ` +
      `channel sent ${num(channel, 'messagesSent')} messages / ${num(channel, 'bytesSent')} B, received ${num(channel, 'messagesReceived')} messages; ` +
      `receiver's channel ${num(backChannel, 'messagesReceived')} messages, sent ${num(backChannel, 'messagesSent')} / ${num(backChannel, 'bytesSent')} B; ` +
      `pair RTT ${num(pair, 'currentRoundTripTime')} s, total RTT ${num(pair, 'totalRoundTripTime')} s / ${num(pair, 'responsesReceived')}` +
      (sctp ? `; sctp ${JSON.stringify(sctp)}` : '; no sctp-transport report'),
  );
}

async function pair(browser: Browser, registry: RegistryHandle) {
  return Promise.all([0, 1].map(() => HarnessConsole.open(browser, registry.httpUrl)));
}

/** Polls gently: page.evaluate round trips compete for the same two cores as the transfer. */
async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

it('links', async () => {
  await buildHarness();
  const registry = await createRegistry({
    webRoot: HARNESS_ROOT,
    logger: pino({ level: 'silent' }),
    // A large per-console backlog, so the naive relay baseline (which cannot resend) loses nothing.
    limits: { maxPeersPerProject: 1000, maxQueuedBytes: 256 * 1024 * 1024 },
    relayBudget: { pairBytesPerSecond: 1024 ** 3, projectBytesPerDay: 1024 ** 4 },
  });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const { link } = await registry.createInvite({ project: 'bench', ttlMs: 3_600_000 });
  const [a, b] = await pair(browser, registry);
  try {
    // --- setup time: ours and the raw exchange, interleaved so drift hits both alike -------------
    const ours: number[] = [];
    const rawTimes: number[] = [];
    for (let i = 0; i < (ONLY_THROUGHPUT ? 0 : SETUP_LINKS); i++) {
      {
        const idA = await a!.join(link, 'A');
        await waitFor(async () => (await a!.call('registryState')) === 'connected');
        const idB = await b!.join(link, 'B');
        await waitFor(async () => (await a!.call('timing', idB)).open !== undefined && (await b!.call('timing', idA)).open !== undefined);
        const [ta, tb] = [await a!.call('timing', idB), await b!.call('timing', idA)];
        const offer = Math.min(...[ta.offer, tb.offer].filter((t): t is number => t !== undefined));
        ours.push(Math.max(ta.open!, tb.open!) - offer);
        if (ours.at(-1)! > 1000) {
          // A slow setup is worth a look: say what happened on both sides.
          console.warn(`slow setup (${ours.at(-1)!.toFixed(0)} ms)`, JSON.stringify(await a!.call('history', idB)), JSON.stringify(await b!.call('history', idA)));
        }
        await Promise.all([a!.call('leave'), b!.call('leave')]);
      }
      {
        const idA = await a!.join(link, 'A', {}, 'raw');
        await waitFor(async () => (await a!.call('registryState')) === 'connected');
        const idB = await b!.join(link, 'B', {}, 'raw');
        await waitFor(async () => (await b!.call('registryState')) === 'connected');
        await a!.call('rawOffer', idB);
        await waitFor(async () => (await a!.call('timing', idB)).open !== undefined && (await b!.call('timing', idA)).open !== undefined);
        const [ta, tb] = [await a!.call('timing', idB), await b!.call('timing', idA)];
        rawTimes.push(Math.max(ta.open!, tb.open!) - ta.offer!);
        await Promise.all([a!.call('leave'), b!.call('leave')]);
      }
    }
    if (!ONLY_THROUGHPUT) {
      recordResult('link_setup_p50', percentile(ours, 50), percentile(rawTimes, 50), 'ms');
      recordResult('link_setup_p95', percentile(ours, 95), percentile(rawTimes, 95), 'ms');
    }

    if (ONLY_SETUP) return;
    // --- DataChannel throughput ------------------------------------------------------------------
    const throughput: number[] = [];
    const rawThroughput: number[] = [];
    for (let round = 0; round < DC_ROUNDS; round++) {
      {
        const [c, d] = await pair(browser, registry);
        const idC = await c!.join(link, 'C');
        const idD = await d!.join(link, 'D');
        await c!.waitForState(idD, ['direct']);
        const { hash, startedAt } = await c!.call('sendBlob', idD, BULK_BYTES);
        await waitFor(async () => (await d!.call("received", idC)).blobs.includes(hash), 120_000, 250);
        throughput.push(BULK_BYTES / 1024 ** 2 / (((await d!.call('receivedAt')) - startedAt) / 1000));
        if (SCTP_STATS) await wireSummary('ours', c!, d!, idD, idC, ((await d!.call('receivedAt')) - startedAt) / 1000);
        await Promise.all([c!.close(), d!.close()]);
      }
      {
        const [c, d] = await pair(browser, registry);
        const idC = await c!.join(link, 'C', {}, 'raw');
        await waitFor(async () => (await c!.call('registryState')) === 'connected');
        const idD = await d!.join(link, 'D', {}, 'raw');
        await waitFor(async () => (await d!.call('registryState')) === 'connected');
        await c!.call('rawOffer', idD);
        await waitFor(async () => (await c!.call('timing', idD)).open !== undefined);
        const startedAt = await c!.call('now');
        await c!.call('rawSendBulk', idD, BULK_BYTES, CHUNK);
        await waitFor(async () => (await d!.call("rawReceivedBytes")) >= BULK_BYTES, 120_000, 250);
        rawThroughput.push(BULK_BYTES / 1024 ** 2 / (((await d!.call('receivedAt')) - startedAt) / 1000));
        if (SCTP_STATS) await wireSummary('raw', c!, d!, idD, idC, ((await d!.call('receivedAt')) - startedAt) / 1000);
        await Promise.all([c!.close(), d!.close()]);
      }
    }
    console.log(`DataChannel MiB/s: ours ${throughput.map((x) => x.toFixed(2)).join(', ')}; raw ${rawThroughput.map((x) => x.toFixed(2)).join(', ')}`);
    // Rounds alternate ours and raw, so round i of each is a pair for the interval.
    recordResult('datachannel_throughput', median(throughput), median(rawThroughput), 'MiB/s', DC_ROUNDS > 1 ? { interval: bootstrapInterval(throughput, rawThroughput, (o, r) => median(o) / median(r)) } : {});
    if (ONLY_THROUGHPUT) return;

    // --- relay throughput ----------------------------------------------------------------------------
    // The product's defaults: pair budget 2 MiB/s (DEFAULT_RELAY_BUDGET), 1 MiB backlog per console.
    const defaults = await createRegistry({ webRoot: HARNESS_ROOT, logger: pino({ level: 'silent' }) });
    try {
      const { link: defaultsLink } = await defaults.createInvite({ project: 'bench-defaults', ttlMs: 3_600_000 });
      const relayConfig = { blockDirect: true, fallbackAfterMs: 300, directRetry: { baseMs: 600_000, maxMs: 600_000 } };
      /** Ours: one RELAY_BYTES message through `server`'s relay (pages served by it, `invite` one of its own). */
      const oursRelay = async (server: RegistryHandle, invite: string) => {
        const [c, d] = await pair(browser, server);
        const idC = await c!.join(invite, 'C', relayConfig);
        const idD = await d!.join(invite, 'D', relayConfig);
        await c!.waitForState(idD, ['relay']);
        await d!.waitForState(idC, ['relay']);
        const { hash, startedAt } = await c!.call('sendBlob', idD, RELAY_BYTES);
        await waitFor(async () => (await d!.call('received', idC)).blobs.includes(hash), 120_000, 250);
        const mibPerS = RELAY_BYTES / 1024 ** 2 / (((await d!.call('receivedAt')) - startedAt) / 1000);
        await Promise.all([c!.close(), d!.close()]);
        return mibPerS;
      };
      const relayed: number[] = [];
      const relayedDefaults: number[] = [];
      const rawRelayed: number[] = [];
      for (let round = 0; round < RELAY_ROUNDS; round++) {
        relayed.push(await oursRelay(registry, link));
        relayedDefaults.push(await oursRelay(defaults, defaultsLink));
        const [e, f] = await pair(browser, registry);
        await e!.join(link, 'E', {}, 'raw');
        await waitFor(async () => (await e!.call('registryState')) === 'connected');
        const idF = await f!.join(link, 'F', {}, 'raw');
        await waitFor(async () => (await f!.call('registryState')) === 'connected');
        const rawStart = await e!.call('now');
        await e!.call('rawRelayBulk', idF, RELAY_BYTES, CHUNK);
        await waitFor(async () => (await f!.call('rawReceivedBytes')) >= RELAY_BYTES, 120_000, 250);
        rawRelayed.push(RELAY_BYTES / 1024 ** 2 / (((await f!.call('receivedAt')) - rawStart) / 1000));
        await Promise.all([e!.close(), f!.close()]);
      }
      console.log(`relay MiB/s: ours ${relayed.map((x) => x.toFixed(2)).join(', ')}; at the defaults ${relayedDefaults.map((x) => x.toFixed(2)).join(', ')}; unsealed ${rawRelayed.map((x) => x.toFixed(2)).join(', ')}`);
      const relayInterval = (ours: number[]) => (ours.length > 1 ? { interval: bootstrapInterval(ours, rawRelayed, (o, b) => median(o) / median(b)) } : {});
      recordResult('relay_throughput', median(relayed), median(rawRelayed), 'MiB/s', relayInterval(relayed));
      recordResult('relay_throughput_defaults', median(relayedDefaults), median(rawRelayed), 'MiB/s at the product defaults (pair budget 2 MiB/s; baseline: unsealed, budget raised)', relayInterval(relayedDefaults));
    } finally {
      await defaults.close();
    }
  } finally {
    await browser.close();
    await registry.close();
  }
}, 600_000);
