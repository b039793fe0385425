/**
 * wsp-agent: headless agents linking with each other through an in-process registry, no browser,
 * with their data directories on disk (loopback only: candidates gathered on 127.0.0.1). The CLI
 * tests run the built copy (npm run build), as `npx wsp-agent` would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startTestRegistry } from '../../support/registry-fixture';
import type { RegistryHandle } from '../../../src-main/registry/registry';
import { openAgent, type Agent } from '../../../src-agent/agent';
import { FileWorkstreamStore, ENTRIES_FILE, IDENTITY_FILE } from '../../../src-agent/storage';
import { checkEntry } from '../../../src-shared/workstream/entry';
import { until } from './until';

const CLI = resolve(__dirname, '../../../bin/wsp-agent.js');
const PROJECT = 'agents';

let registries: RegistryHandle[] = [];
let agents: Agent[] = [];
let dirs: string[] = [];
let children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(agents.map((a) => a.close()));
  await Promise.all(registries.map((r) => r.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  registries = [];
  agents = [];
  dirs = [];
  children = [];
});

async function projectLink(): Promise<string> {
  const registry = await startTestRegistry();
  registries.push(registry);
  return (await registry.createInvite({ project: PROJECT, ttlMs: 10 * 60_000 })).link;
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-agent-test-'));
  dirs.push(dir);
  return join(dir, 'data');
}

async function agent(options: { dataDir: string; invite?: string; name?: string }): Promise<Agent> {
  const a = await openAgent({ ...options, bindAddress: '127.0.0.1' });
  agents.push(a);
  return a;
}


const texts = (a: Agent) => a.entries().filter((e) => e.kind === 'message').map((e) => (e.body as { text: string }).text);
const linkOf = (a: Agent, peerId: string) => a.peers().find((p) => p.peerId === peerId)?.link;

describe('wsp-agent: agents with no browser', () => {
  it('two agents link, post both ways, run a task, and move a file byte-exact; the key file is 0600', async () => {
    const link = await projectLink();
    const adaDir = dataDir();
    const ada = await agent({ invite: link, name: 'ada-bot', dataDir: adaDir });
    const bob = await agent({ invite: link, name: 'bob-bot', dataDir: dataDir() });
    expect(statSync(join(adaDir, IDENTITY_FILE)).mode & 0o777).toBe(0o600);

    const fromAda = await ada.post('hello from ada');
    const fromBob = await bob.post('hello from bob');
    expect(await ada.delivered(fromAda)).toBe(true);
    expect(await bob.delivered(fromBob)).toBe(true);
    await until('both messages at both', () => texts(ada).length === 2 && texts(bob).length === 2);
    expect(texts(ada).sort()).toEqual(['hello from ada', 'hello from bob']);
    expect(ada.entries().map((e) => e.id)).toEqual(bob.entries().map((e) => e.id));
    expect(bob.nameOf(ada.peerId)).toBe('ada-bot');

    const task = await ada.tasks.create('run the nightly build');
    await until('the task at bob', () => bob.tasks.list().some((t) => t.id === task.id));
    await bob.tasks.claim(task.id);
    await bob.tasks.progress(task.id, 40, 'compiling');
    const done = await bob.tasks.done(task.id, 'green');
    expect(await bob.delivered(done)).toBe(true);
    await until('the task done at ada', () => ada.tasks.list().find((t) => t.id === task.id)?.state === 'done');
    expect(ada.tasks.list().find((t) => t.id === task.id)).toMatchObject({ title: 'run the nightly build', state: 'done', progress: 100, owner: bob.peerId });

    const bytes = randomBytes(700 * 1024); // three chunks
    const source = join(adaDir, '..', 'report.bin');
    writeFileSync(source, bytes);
    const file = await ada.share(source);
    await until('the file entry at bob', () => bob.workstream.log.get(file.id));
    const out = join(adaDir, '..', 'copy.bin');
    await bob.download(file.id, out);
    expect(readFileSync(out).equals(bytes)).toBe(true);
  }, 90_000);

  it('restarted with its data dir, an agent keeps its peer id, is not held, and catches up what it missed; a new key under its name is held', async () => {
    const link = await projectLink();
    const adaDir = dataDir();
    let ada = await agent({ invite: link, name: 'ada-bot', dataDir: adaDir });
    const bob = await agent({ invite: link, name: 'bob-bot', dataDir: dataDir() });
    const peerId = ada.peerId;
    expect(await ada.delivered(await ada.post('before the restart'))).toBe(true);
    await ada.close();
    await until('ada gone at bob', () => !linkOf(bob, peerId));

    for (let i = 0; i < 3; i++) await bob.post(`missed ${i}`);

    ada = await agent({ dataDir: adaDir }); // no invite, no name: both saved
    expect(ada.peerId).toBe(peerId);
    expect(ada.name).toBe('ada-bot');
    await until('ada caught up', () => texts(ada).length === 4);
    expect(texts(ada)).toEqual(expect.arrayContaining(['before the restart', 'missed 0', 'missed 1', 'missed 2']));
    await until('bob linked to ada again', () => ['direct', 'relay', 'turn'].includes(linkOf(bob, peerId) ?? ''));

    // The control: the same name with a new identity is held back by bob (trust on first use).
    const impostor = await agent({ invite: link, name: 'ada-bot', dataDir: dataDir() });
    await until('the impostor held at bob', () => linkOf(bob, impostor.peerId) === 'held');
    expect(linkOf(bob, peerId)).not.toBe('held');
  }, 90_000);

  it('a second process on the same data dir is refused; a group-readable key file is refused', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const ada = await agent({ invite: link, name: 'ada-bot', dataDir: dir });
    await expect(openAgent({ dataDir: dir })).rejects.toThrow(/in use by another wsp-agent/);
    await ada.close();
    chmodSync(join(dir, IDENTITY_FILE), 0o644);
    await expect(openAgent({ dataDir: dir })).rejects.toThrow(/readable by others.*chmod 600/);
  }, 30_000);

  it('the log file: a batch torn by a crash is dropped on load, and appends go on after it', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const ada = await agent({ invite: link, name: 'ada-bot', dataDir: dir });
    await ada.post('one');
    await ada.post('two');
    await ada.close();
    appendFileSync(join(dir, ENTRIES_FILE), '[{"author":"x","seq":3,"b":"AAEC'); // torn mid-line
    const again = await agent({ dataDir: dir });
    expect(texts(again)).toEqual(['one', 'two']);
    await again.post('three');
    await again.close();
    const reopened = await agent({ dataDir: dir });
    expect(texts(reopened)).toEqual(['one', 'two', 'three']);
  }, 30_000);
});

describe('the wsp-agent command', () => {
  const built = existsSync(resolve(__dirname, '../../../out/main/wsp-agent.js'));

  it.skipIf(!built)('SIGKILLed right after printing an entry, the agent loses no entry it printed', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const child = spawn(process.execPath, [CLI, 'join', link, '--name', 'kim-bot', '--data-dir', dir, '--json', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const printed: string[] = [];
    let ready = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { type: string; entry?: { id: string } };
      if (event.type === 'ready') ready = true;
      if (event.type === 'entry' && printed.push(event.entry!.id) === 15) child.kill('SIGKILL'); // right after an acknowledgement
    });
    await until('the CLI ready', () => ready || child.exitCode !== null).catch((e: Error) => {
      throw new Error(`${e.message}: ${stderr}`);
    });
    const ada = await agent({ invite: link, name: 'ada-bot', dataDir: dataDir() });
    await ada.linkedToAny(20_000);
    for (let i = 0; i < 40 && child.signalCode === null; i++) await ada.post(`entry ${i}`);
    await until('the CLI killed', () => child.signalCode === 'SIGKILL', 30_000);
    expect(printed.length).toBeGreaterThanOrEqual(15);

    const stored = new Set<string>();
    const store = new FileWorkstreamStore(dir);
    for (const signed of await store.loadEntries()) {
      const checked = await checkEntry(signed, PROJECT);
      if (checked.ok) stored.add(checked.entry.id);
    }
    store.close();
    expect(printed.filter((id) => !stored.has(id))).toEqual([]);
  }, 90_000);

  it.skipIf(!built)('bad arguments exit non-zero with a message and leave the data dir untouched', () => {
    const dir = dataDir();
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--data-dir', dir], { encoding: 'utf8' });
    const cases: Array<[string[], RegExp]> = [
      [['join', 'not-an-invite', '--name', 'x'], /join: /],
      [['join', 'http://127.0.0.1:1/#invite=abc'], /--name NAME is required/],
      [['status', 'sleeping'], /expected one of idle, working, blocked, away/],
      [['task', 'progress', 'abc', '50'], /not an entry id/],
      [['task', 'fly'], /expected create, claim, progress, done or list/],
      [['post', 'hi', '--bogus'], /Unknown option '--bogus'/],
      [['post', 'hi'], /has not joined a project/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const result = run(...args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(dir)).toBe(false);
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: wsp-agent/);
  }, 30_000);

  it.skipIf(!built)('the example task bot claims a task a teammate creates, reports progress and finishes it', async () => {
    const link = await projectLink();
    const bot = spawn(process.execPath, [resolve(__dirname, '../../../examples/task-bot.mjs'), '--data-dir', dataDir(), '--invite', link, '--name', 'task-bot', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(bot);
    let output = '';
    bot.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    bot.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const ada = await agent({ invite: link, name: 'ada', dataDir: dataDir() });
    const task = await ada.tasks.create('tidy the changelog');
    await until('the task done', () => ada.tasks.list().find((t) => t.id === task.id)?.state === 'done', 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; bot said: ${output}`);
    });
    const updates = ada.entries().filter((e) => e.ref === task.id).map((e) => e.body as { state: string; progress?: number });
    expect(updates.map((u) => u.state)).toEqual(['claimed', 'progress', 'progress', 'progress', 'done']);
    expect(ada.tasks.list().find((t) => t.id === task.id)?.owner).not.toBe(ada.peerId);
  }, 60_000);

  it.skipIf(!built)('one-shot commands against a stored agent: post and task reach a teammate, log lists them; a running agent keeps the dir locked', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const ada = await agent({ invite: link, name: 'ada', dataDir: dataDir() });
    const stored = await agent({ invite: link, name: 'cli-bot', dataDir: dir });
    await until('linked', () => linkOf(ada, stored.peerId) === 'direct' || linkOf(ada, stored.peerId) === 'relay');
    const locked = await cli(['post', 'while running', '--data-dir', dir]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/in use by another wsp-agent/);
    await stored.close();

    const posted = await cli(['post', 'from the command line', '--data-dir', dir, '--bind', '127.0.0.1', '--json']);
    expect(posted.code, posted.stderr).toBe(0);
    expect(JSON.parse(posted.stdout)).toMatchObject({ type: 'posted', delivered: true, entry: { kind: 'message', body: { text: 'from the command line' } } });
    const created = await cli(['task', 'create', 'ship it', '--data-dir', dir, '--bind', '127.0.0.1']);
    expect(created.code, created.stderr).toBe(0);
    const taskId = created.stdout.trim();
    await until('both at ada', () => texts(ada).includes('from the command line') && ada.tasks.list().some((t) => t.id === taskId && t.title === 'ship it'));
    const log = await cli(['log', '--json', '--data-dir', dir, '--bind', '127.0.0.1']);
    expect(log.code, log.stderr).toBe(0);
    const ids = log.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { entry: { id: string } }).entry.id);
    expect(ids).toEqual(expect.arrayContaining([JSON.parse(posted.stdout).entry.id, taskId]));
  }, 90_000);

  it.skipIf(!built)('one-shot commands against a running `join` go through it: post, a file shared by a relative path, peers; the running agent prints what they wrote', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const child = spawn(process.execPath, [CLI, 'join', link, '--name', 'run-bot', '--data-dir', dir, '--json', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const events: Array<{ type: string; peerId?: string; entry?: { id: string } }> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line)));
    const ready = await until('ready', () => events.find((e) => e.type === 'ready'));
    const ada = await agent({ invite: link, name: 'ada', dataDir: dataDir() });
    await ada.linkedToAny(20_000);

    const posted = await cli(['post', 'through the running agent', '--data-dir', dir, '--json']);
    expect(posted.code, posted.stderr).toBe(0);
    const { entry, delivered } = JSON.parse(posted.stdout) as { entry: { id: string; author: string }; delivered: boolean };
    expect(delivered).toBe(true);
    expect(entry.author).toBe(ready.peerId); // the running agent's own entry, not a second process's
    await until('the running agent printed it', () => events.some((e) => e.type === 'entry' && e.entry?.id === entry.id));
    expect(texts(ada)).toContain('through the running agent');

    const cwd = join(dir, '..', 'work');
    mkdirSync(cwd);
    const bytes = randomBytes(300 * 1024);
    writeFileSync(join(cwd, 'report.bin'), bytes);
    const shared = await cli(['share', 'report.bin', '--data-dir', dir, '--json'], cwd);
    expect(shared.code, shared.stderr).toBe(0);
    const fileId = (JSON.parse(shared.stdout) as { entry: { id: string } }).entry.id;
    await until('the file entry at ada', () => ada.workstream.log.get(fileId));
    const out = join(dir, '..', 'copy.bin');
    await ada.download(fileId, out);
    expect(readFileSync(out).equals(bytes)).toBe(true);

    const peers = await cli(['peers', '--data-dir', dir, '--json']);
    expect(peers.code, peers.stderr).toBe(0);
    // The running agent's peers, with a link that is up (direct; the relay if direct was slow on a loaded machine).
    expect(peers.stdout.trim().split('\n').map((l) => JSON.parse(l) as { peerId: string })).toEqual([{ type: 'peer', peerId: ada.peerId, name: 'ada', link: expect.stringMatching(/^(direct|relay)$/) }]);

    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);

  it.skipIf(!built)('`run` comes back with the saved invite and identity, prints human lines and closes on SIGINT; task claim/progress/done, status and download as one-shots', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const joined = await cli(['join', link, '--name', 'ops-bot', '--data-dir', dir, '--bind', '127.0.0.1', '--json'], undefined, (child) => child.kill('SIGINT'));
    expect(joined.code, joined.stderr).toBe(0);
    const ready = JSON.parse(joined.stdout.split('\n')[0]!) as { peerId: string };
    expect(JSON.parse(joined.stdout.trim().split('\n').at(-1)!)).toEqual({ type: 'closed' });

    const child = spawn(process.execPath, [CLI, 'run', '--data-dir', dir, '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    await until('run ready', () => lines.length > 0);
    expect(lines[0]).toMatch(new RegExp(`^ops-bot \\(${ready.peerId}\\) in project ${PROJECT}; \\d+ entries stored$`));
    const ada = await agent({ invite: link, name: 'ada', dataDir: dataDir() });
    await ada.linkedToAny(20_000);
    await until('ada joined, in human words', () => lines.includes('+ ada joined'));

    const task = await ada.tasks.create('rotate the keys');
    await until('the task printed', () => lines.some((l) => l.includes(`${task.id}  ada: task open “rotate the keys”`)));
    for (const args of [['task', 'claim', task.id], ['task', 'progress', task.id, '60', 'half way'], ['task', 'done', task.id, 'rotated'], ['status', 'working', 'on call']]) {
      const result = await cli([...args, '--data-dir', dir]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    await until('the task done at ada', () => ada.tasks.list().find((t) => t.id === task.id)?.state === 'done');
    expect(ada.tasks.list().find((t) => t.id === task.id)).toMatchObject({ state: 'done', progress: 100, owner: ready.peerId });
    expect(ada.entries().filter((e) => e.ref === task.id).map((e) => e.body)).toEqual([{ state: 'claimed' }, { state: 'progress', progress: 60, note: 'half way' }, { state: 'done', progress: 100, note: 'rotated' }]);
    await until('the status at ada', () => ada.entries().some((e) => e.kind === 'status' && e.author === ready.peerId));
    expect(lines).toContainEqual(expect.stringMatching(/ops-bot: status working: on call$/));

    const bytes = randomBytes(200 * 1024);
    const source = join(dir, '..', 'notes.bin');
    writeFileSync(source, bytes);
    const file = await ada.share(source);
    const downloaded = await cli(['download', file.id, '--out', 'notes-copy.bin', '--data-dir', dir], join(dir, '..'));
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(readFileSync(join(dir, '..', 'notes-copy.bin')).equals(bytes)).toBe(true);

    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lines.at(-1)).toBe('closed');
  }, 90_000);

  it.skipIf(!built)('a revoked invite: a one-shot command and `run` exit 1 at once with the registry\'s reason', async () => {
    const registry = await startTestRegistry();
    registries.push(registry);
    const { link, id } = await registry.createInvite({ project: PROJECT, ttlMs: 10 * 60_000 });
    const dir = dataDir();
    await (await agent({ invite: link, name: 'revoked-bot', dataDir: dir })).close();
    await registry.revokeInvite(id);
    const started = Date.now();
    const posted = await cli(['post', 'hello?', '--data-dir', dir, '--bind', '127.0.0.1']);
    expect(posted.code).toBe(1);
    expect(posted.stderr).toMatch(/registry refused this agent: INVITE_REVOKED/);
    const run = await cli(['run', '--data-dir', dir, '--bind', '127.0.0.1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/INVITE_REVOKED/);
    expect(Date.now() - started).toBeLessThan(15_000); // not the 20 s timeout
  }, 60_000);

  it.skipIf(!built)('join exits cleanly on SIGTERM (exit 0, "closed", the lock released); tail --json then follows new entries', async () => {
    const link = await projectLink();
    const dir = dataDir();
    const child = spawn(process.execPath, [CLI, 'join', link, '--name', 'term-bot', '--data-dir', dir, '--json', '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    await until('ready', () => lines.some((l) => l.includes('"ready"')));
    // 'close', not 'exit': it comes after stdout has ended, so the last line has been read.
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<string>((done) => child.on('close', (code, signal) => done(`exit ${String(code)}, signal ${String(signal)}${stderr ? `, stderr: ${stderr.slice(-2000)}` : ''}`)));
    child.kill('SIGTERM');
    expect(await exited).toBe('exit 0, signal null');
    expect(JSON.parse(lines.at(-1)!)).toEqual({ type: 'closed' });
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    expect(existsSync(join(dir, 'agent.sock'))).toBe(false);

    const tail = spawn(process.execPath, [CLI, 'tail', '--json', '--data-dir', dir, '--bind', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(tail);
    const tailed: Array<{ type: string; entry: { body: { text: string } } }> = [];
    createInterface({ input: tail.stdout! }).on('line', (line) => tailed.push(JSON.parse(line)));
    const ada = await agent({ invite: link, name: 'ada', dataDir: dataDir() });
    await ada.linkedToAny(20_000);
    await ada.post('for the tail');
    await until('the tail printed it', () => tailed.some((e) => e.entry?.body.text === 'for the tail'));
    expect(tailed.every((e) => e.type === 'entry')).toBe(true);
  }, 60_000);
});


/** Runs the CLI to its end; `onFirstLine` is called once it has printed its first line (to stop one that stays online). */
function cli(args: string[], cwd?: string, onFirstLine?: (child: ChildProcess) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      const first = !stdout.includes('\n');
      stdout += d.toString();
      if (first && stdout.includes('\n')) onFirstLine?.(child);
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr })); // after stdout and stderr ended
  });
}
