/**
 * Agent ↔ console against console ↔ console, in the same run, on loopback with a real registry:
 *   agent_link_setup_p50 the second peer starts joining → the link is open on both sides: an agent
 *                        (openAgent in this Node process, node-datachannel) joining a console in
 *                        Chromium, vs a second Chromium console joining it; interleaved
 *   agent_dc_throughput_to_agent / _from_agent
 *                        one message of N MiB through PeerLink over the DataChannel, console → agent
 *                        and agent → console, vs console → console
 * Medians over the rounds; the agent's side is driven through its engine's link manager (the
 * workstream ignores the benchmark's messages).
 */
import { it } from 'vitest';
import { chromium, type Browser } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../src-main/registry/registry';
import { openAgent, type Agent } from '../src-agent/agent';
import type { ConsoleEngine } from '../src-renderer/engine/console';
import { CHROMIUM_ARGS, chromiumPath } from '../tests/support/chromium';
import { HarnessConsole, HARNESS_ROOT, buildHarness } from '../tests/support/harness';
import { median, recordResult } from './stats';
import { testChannel, TEST_MESSAGE } from '../tests/support/link-bus';

const QUICK = process.env.BENCH_QUICK === '1';
const SETUP_ROUNDS = QUICK ? 6 : 20;
const BULK_ROUNDS = QUICK ? 2 : 3;
const BULK_BYTES = (QUICK ? 8 : 32) * 1024 * 1024;

const preciseNow = () => performance.timeOrigin + performance.now();
/** The agent's link manager: the benchmark sends and receives below the workstream. */
const linksOf = (agent: Agent) => (agent as unknown as { session: ConsoleEngine }).session.links;

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, pollMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('benchmark step timed out');
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

it('agent vs console', async () => {
  await buildHarness();
  const registry: RegistryHandle = await createRegistry({
    webRoot: HARNESS_ROOT,
    logger: pino({ level: 'silent' }),
    limits: { maxPeersPerProject: 1000, maxQueuedBytes: 256 * 1024 * 1024 },
  });
  const browser: Browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  const { link } = await registry.createInvite({ project: 'bench-agent', ttlMs: 3_600_000 });
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsp-bench-agent-'));
    dirs.push(dir);
    return dir;
  };
  const startAgent = (name: string) => openAgent({ dataDir: freshDir(), invite: link, name, bindAddress: '127.0.0.1' });
  try {
    // --- setup: the second peer starts joining → open on both sides ---------------------------------
    const agentSetup: number[] = [];
    const consoleSetup: number[] = [];
    for (let i = 0; i < SETUP_ROUNDS; i++) {
      {
        const [a] = await Promise.all([HarnessConsole.open(browser, registry.httpUrl)]);
        await a!.join(link, 'A');
        await waitFor(async () => (await a!.call('registryState')) === 'connected');
        const startedAt = preciseNow();
        const agent = await startAgent(`bot-${i}`);
        let agentOpenAt: number | undefined;
        linksOf(agent).on('open', ({ peerId }) => peerId === a!.peerId && (agentOpenAt ??= preciseNow()));
        await waitFor(async () => agentOpenAt !== undefined && (await a!.call('timing', agent.peerId)).open !== undefined);
        agentSetup.push(Math.max(agentOpenAt!, (await a!.call('timing', agent.peerId)).open!) - startedAt);
        await agent.close();
        await a!.close();
      }
      {
        const [a, b] = await Promise.all([HarnessConsole.open(browser, registry.httpUrl), HarnessConsole.open(browser, registry.httpUrl)]);
        const idA = await a!.join(link, 'A');
        await waitFor(async () => (await a!.call('registryState')) === 'connected');
        const startedAt = await b!.call('now');
        const idB = await b!.join(link, 'B');
        await waitFor(async () => (await a!.call('timing', idB)).open !== undefined && (await b!.call('timing', idA)).open !== undefined);
        consoleSetup.push(Math.max((await a!.call('timing', idB)).open!, (await b!.call('timing', idA)).open!) - startedAt);
        await Promise.all([a!.close(), b!.close()]);
      }
    }
    console.log(`agent setup (ms): ${agentSetup.map((t) => t.toFixed(0)).join(' ')}; console setup: ${consoleSetup.map((t) => t.toFixed(0)).join(' ')}`);
    recordResult('agent_link_setup_p50', median(agentSetup), median(consoleSetup), 'ms');

    // --- DataChannel throughput ---------------------------------------------------------------------
    const toAgent: number[] = [];
    const fromAgent: number[] = [];
    const consoleToConsole: number[] = [];
    const mibPerS = (ms: number) => BULK_BYTES / 1024 ** 2 / (ms / 1000);
    for (let round = 0; round < BULK_ROUNDS; round++) {
      {
        const c = await HarnessConsole.open(browser, registry.httpUrl);
        await c.join(link, 'C');
        const agent = await startAgent(`bulk-${round}`);
        await c.waitForState(agent.peerId, ['direct']);
        await waitFor(() => linksOf(agent).snapshot(c.peerId)?.state === 'direct');
        // console → agent
        let receivedAt: number | undefined;
        const { close: off } = testChannel(linksOf(agent), (peerId, message) => {
          if (peerId === c.peerId && (message as { blob?: Uint8Array }).blob?.length === BULK_BYTES) receivedAt = preciseNow();
        });
        const { startedAt } = await c.call('sendBlob', agent.peerId, BULK_BYTES);
        await waitFor(() => receivedAt !== undefined, 120_000, 50);
        off();
        toAgent.push(mibPerS(receivedAt! - startedAt));
        // agent → console
        const blob = new Uint8Array(BULK_BYTES);
        for (let offset = 0; offset < BULK_BYTES; offset += 65536) crypto.getRandomValues(blob.subarray(offset, offset + 65536));
        const sentAt = preciseNow();
        await linksOf(agent).send(c.peerId, { t: TEST_MESSAGE, blob });
        await waitFor(async () => (await c.call('received', agent.peerId)).blobs.length > 0, 120_000, 250);
        fromAgent.push(mibPerS((await c.call('receivedAt')) - sentAt));
        await agent.close();
        await c.close();
      }
      {
        const [c, d] = await Promise.all([HarnessConsole.open(browser, registry.httpUrl), HarnessConsole.open(browser, registry.httpUrl)]);
        const idC = await c!.join(link, 'C');
        const idD = await d!.join(link, 'D');
        await c!.waitForState(idD, ['direct']);
        await d!.waitForState(idC, ['direct']);
        const { hash, startedAt } = await c!.call('sendBlob', idD, BULK_BYTES);
        await waitFor(async () => (await d!.call('received', idC)).blobs.includes(hash), 120_000, 250);
        consoleToConsole.push(mibPerS((await d!.call('receivedAt')) - startedAt));
        await Promise.all([c!.close(), d!.close()]);
      }
    }
    console.log(`MiB/s to agent: ${toAgent.map((t) => t.toFixed(1)).join(' ')}; from agent: ${fromAgent.map((t) => t.toFixed(1)).join(' ')}; console → console: ${consoleToConsole.map((t) => t.toFixed(1)).join(' ')}`);
    recordResult('agent_dc_throughput_to_agent', median(toAgent), median(consoleToConsole), 'MiB/s');
    recordResult('agent_dc_throughput_from_agent', median(fromAgent), median(consoleToConsole), 'MiB/s');
  } finally {
    await browser.close();
    await registry.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);
