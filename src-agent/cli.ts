/**
 * wsp-agent: a headless peer on the command line (the library is agent.ts).
 * `main` returns the exit code; bin/wsp-agent.js runs the built copy (out/main/wsp-agent.js).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AGENT_STATES, entryIdSchema, type Entry } from '../src-shared/workstream/entry';
import { InviteError, parseInvite } from '../src-shared/invite';
import { AgentStorageError, entryToJson, openAgent, type Agent, type AgentEvents, type AgentOptions } from './agent';
import { forwardToRunning, serveControl, type Io } from './control';
import type { RegistryState } from '../src-renderer/engine/signaling-client';

const DEFAULT_DATA_DIR = join(homedir(), '.wsp-agent');
const DEFAULT_TIMEOUT_S = 20;

export const USAGE = `usage: wsp-agent COMMAND [options]

Stay online (until SIGINT/SIGTERM), print what happens:
  join INVITE --name NAME     join a project (the invite and name are saved in the data dir)
  run                         come back online with the saved invite and name
  tail                        print new entries only (with --json: one JSON object a line)

One-shot (opens the stored agent, goes online, waits until a linked teammate holds the entry):
  post TEXT
  task create TITLE | task claim TASK [NOTE] | task progress TASK PERCENT [NOTE] | task done TASK [NOTE]
  task list
  status working|blocked|idle|away [TEXT]
  share FILE                  (teammates download it while this agent is online)
  download ENTRY --out FILE
  peers
  log [--since ISO-TIME|MS] [--json]

Options:
  --data-dir DIR   where the agent keeps its identity, log and files (default ~/.wsp-agent)
  --json           NDJSON output
  --timeout S      one-shot: how long to wait for a teammate (default ${DEFAULT_TIMEOUT_S})
  --bind ADDR      gather WebRTC candidates on this address only (e.g. 127.0.0.1)
  -h, --help

A data dir is used by one process at a time: a one-shot command on the data dir of a running
\`join\`/\`run\`/\`tail\` is done by that agent (its --bind is then the running one's).
Exit codes: 0 done; 1 failed; 2 bad arguments; 3 stored but no teammate confirmed it in time.`;

class UsageError extends Error {}

const OPTIONS = {
  'data-dir': { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  bind: { type: 'string' },
  out: { type: 'string' },
  since: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

const stdio: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

/** Where a command runs: here (opening the agent), or in the running agent it was handed to (control.ts). */
interface Context {
  /** The running agent, when this is a command handed to it. */
  running?: Agent;
  /** What relative paths in the arguments are relative to. */
  cwd: string;
}

export async function main(argv: string[], io: Io = stdio, context: Context = { cwd: process.cwd() }): Promise<number> {
  let args: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    args = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.err(`wsp-agent: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help || !positionals.length) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  try {
    const command = checkCommand(positionals, values, context);
    if (command.oneShot && !context.running) {
      // The data dir's agent may be running (join/run/tail): then it does the command.
      const code = await forwardToRunning(command.dataDir, { argv, cwd: context.cwd }, io);
      if (code !== undefined) return code;
    }
    return await command.run(io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`wsp-agent: ${error.message}\n(wsp-agent --help for usage)`);
      return 2;
    }
    if (error instanceof AgentStorageError || error instanceof InviteError) {
      io.err(`wsp-agent: ${error.message}`);
      return 1;
    }
    io.err(`wsp-agent: ${(error as Error).message}`);
    return 1;
  }
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** An agent to run a one-shot command on, and what to do when it is done with it. */
type Open = () => Promise<{ agent: Agent; release(): Promise<void> }>;

interface Command {
  dataDir: string;
  /** A one-shot command (a running agent of the data dir can do it), not join/run/tail. */
  oneShot: boolean;
  run(io: Io): Promise<number>;
}

/**
 * Every argument is checked here, before the data directory is touched, so a bad one changes
 * nothing; the returned command does the work.
 */
function checkCommand(positionals: string[], values: Values, context: Context): Command {
  const [command, ...rest] = positionals;
  const { running, cwd } = context;
  const dataDir = resolve(cwd, values['data-dir'] ?? DEFAULT_DATA_DIR);
  const resolvePath = (path: string) => resolve(cwd, path);
  const json = values.json ?? false;
  const timeoutMs = seconds(values.timeout ?? String(DEFAULT_TIMEOUT_S)) * 1000;
  const base: AgentOptions = { dataDir, ...(values.bind ? { bindAddress: values.bind } : {}) };
  const arity = (min: number, max: number, what: string) => {
    if (rest.length < min || rest.length > max) throw new UsageError(`${command}: expected ${what}`);
  };
  const needsJoined = () => {
    if (!existsSync(join(dataDir, 'invite.json'))) throw new UsageError(`${dataDir} has not joined a project: run \`wsp-agent join INVITE --name NAME --data-dir ${dataDir}\` first`);
  };
  const open: Open = running
    ? async () => ({ agent: running, release: async () => {} })
    : async () => {
        const agent = await openAgent(base);
        return { agent, release: () => agent.close() };
      };
  const stayOnline = (what: 'all' | 'entries', options: AgentOptions): Command => {
    if (running) throw new UsageError(`${command}: the agent of ${dataDir} is running already`);
    return { dataDir, oneShot: false, run: (io) => online(options, io, json, what) };
  };
  const oneShotCommand = (run: (io: Io) => Promise<number>): Command => ({ dataDir, oneShot: true, run });

  switch (command) {
    case 'join': {
      arity(1, 1, 'an invite link: join INVITE --name NAME');
      if (!values.name?.trim()) throw new UsageError('join: --name NAME is required');
      if (values.name.trim().length > 64) throw new UsageError('join: --name is at most 64 characters');
      try {
        parseInvite(rest[0]!);
      } catch (error) {
        throw new UsageError(`join: ${(error as Error).message}`);
      }
      return stayOnline('all', { ...base, invite: rest[0]!, name: values.name!.trim() });
    }
    case 'run':
      arity(0, 0, 'no arguments');
      needsJoined();
      return stayOnline('all', { ...base, ...(values.name ? { name: values.name } : {}) });
    case 'tail':
      arity(0, 0, 'no arguments');
      needsJoined();
      return stayOnline('entries', base);
    case 'post': {
      arity(1, 1, 'one TEXT (quote it)');
      const text = rest[0]!.trim();
      if (!text) throw new UsageError('post: the text is empty');
      if (text.length > 8000) throw new UsageError('post: at most 8000 characters');
      needsJoined();
      return oneShotCommand(oneShot(open, timeoutMs, json, (agent) => agent.post(text)));
    }
    case 'status': {
      arity(1, 2, 'status working|blocked|idle|away [TEXT]');
      const state = rest[0] as (typeof AGENT_STATES)[number];
      if (!AGENT_STATES.includes(state)) throw new UsageError(`status: expected one of ${AGENT_STATES.join(', ')}, not “${rest[0]}”`);
      if ((rest[1]?.length ?? 0) > 200) throw new UsageError('status: the text is at most 200 characters');
      needsJoined();
      return oneShotCommand(oneShot(open, timeoutMs, json, (agent) => agent.status(state, rest[1])));
    }
    case 'task':
      return oneShotCommand(checkTask(rest, open, timeoutMs, json, needsJoined));
    case 'share': {
      arity(1, 1, 'share FILE');
      const path = resolvePath(rest[0]!);
      if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`share: ${rest[0]} is not a file`);
      needsJoined();
      return oneShotCommand(oneShot(open, timeoutMs, json, (agent) => agent.share(path)));
    }
    case 'download': {
      arity(1, 1, 'download ENTRY --out FILE');
      const id = entryId(rest[0]!);
      if (!values.out) throw new UsageError('download: --out FILE is required');
      const out = resolvePath(values.out);
      if (existsSync(out)) throw new UsageError(`download: ${values.out} exists (not overwritten)`);
      needsJoined();
      return oneShotCommand(async (io) => {
        const { agent, release } = await open();
        try {
          await guard(agent, settle(agent, id, timeoutMs)); // a teammate may have to send the entry first
          await guard(agent, withTimeout(agent.download(id, out), timeoutMs, `no teammate holding ${id} sent it within ${timeoutMs / 1000} s`));
          io.out(json ? JSON.stringify({ type: 'downloaded', entry: id, out }) : `downloaded ${id} to ${out}`);
          return 0;
        } finally {
          await release();
        }
      });
    }
    case 'peers':
      arity(0, 0, 'no arguments');
      needsJoined();
      return oneShotCommand(async (io) => {
        const { agent, release } = await open();
        try {
          await guard(agent, agent.linkedToAny(Math.min(timeoutMs, 5000)));
          await sleep(1000); // the rest of the links
          for (const p of agent.peers()) io.out(json ? JSON.stringify({ type: 'peer', ...p }) : `${p.name}  ${p.peerId}  ${p.link}`);
          return 0;
        } finally {
          await release();
        }
      });
    case 'log': {
      arity(0, 0, 'no arguments (log [--since TIME] [--json])');
      const since = values.since === undefined ? 0 : time(values.since);
      needsJoined();
      return oneShotCommand(async (io) => {
        const { agent, release } = await open();
        try {
          // Catch up from a teammate first, if one is online; print what is stored either way.
          if (await guard(agent, agent.linkedToAny(Math.min(timeoutMs, 5000)))) await sleep(1500);
          for (const e of agent.entries()) if (e.ts >= since) io.out(formatEntry(agent, e, json));
          return 0;
        } finally {
          await release();
        }
      });
    }
    default:
      throw new UsageError(`unknown command “${command}”`);
  }
}

function checkTask(rest: string[], open: Open, timeoutMs: number, json: boolean, needsJoined: () => void): (io: Io) => Promise<number> {
  const [sub, ...args] = rest;
  const usage = (what: string) => new UsageError(`task ${sub ?? ''}: expected ${what}`.replace('  ', ' '));
  switch (sub) {
    case 'create': {
      if (args.length !== 1 || !args[0]!.trim()) throw usage('task create TITLE');
      if (args[0]!.trim().length > 200) throw usage('a title of at most 200 characters');
      needsJoined();
      return oneShot(open, timeoutMs, json, (agent) => agent.tasks.create(args[0]!.trim()));
    }
    case 'claim':
    case 'done': {
      if (args.length < 1 || args.length > 2) throw usage(`task ${sub} TASK [NOTE]`);
      const id = entryId(args[0]!);
      needsJoined();
      return oneShot(open, timeoutMs, json, (agent) => (sub === 'claim' ? agent.tasks.claim(id, args[1]) : agent.tasks.done(id, args[1])), id);
    }
    case 'progress': {
      if (args.length < 2 || args.length > 3) throw usage('task progress TASK PERCENT [NOTE]');
      const id = entryId(args[0]!);
      const percent = Number(args[1]);
      if (!/^\d{1,3}$/.test(args[1]!) || percent > 100) throw usage(`a PERCENT from 0 to 100, not “${args[1]}”`);
      needsJoined();
      return oneShot(open, timeoutMs, json, (agent) => agent.tasks.progress(id, percent, args[2]), id);
    }
    case 'list':
      if (args.length) throw usage('task list');
      needsJoined();
      return async (io) => {
        const { agent, release } = await open();
        try {
          if (await guard(agent, agent.linkedToAny(Math.min(timeoutMs, 5000)))) await sleep(1500);
          for (const t of agent.tasks.list()) io.out(json ? JSON.stringify({ type: 'task', ...t }) : `${t.id}  [${t.state}${t.progress !== undefined ? ` ${t.progress}%` : ''}]  ${t.title}`);
          return 0;
        } finally {
          await release();
        }
      };
    default:
      throw new UsageError(`task: expected create, claim, progress, done or list${sub ? `, not “${sub}”` : ''}`);
  }
}

/** A one-shot write: open, (catch up on `needs` if the log lacks it), append, wait for a teammate to hold it. */
function oneShot(open: Open, timeoutMs: number, json: boolean, act: (agent: Agent) => Promise<Entry>, needs?: string): (io: Io) => Promise<number> {
  return async (io) => {
    const { agent, release } = await open();
    try {
      if (needs) await guard(agent, settle(agent, needs, timeoutMs));
      const entry = await act(agent);
      const delivered = await guard(agent, agent.delivered(entry, timeoutMs));
      if (json) io.out(JSON.stringify({ type: 'posted', delivered, entry: entryToJson(entry, agent.name) }));
      else io.out(`${entry.id}${delivered ? '' : '  (stored; no teammate confirmed it yet: it goes out when this agent is next online)'}`);
      return delivered ? 0 : 3;
    } finally {
      await release();
    }
  };
}

/** Fails a one-shot at once when the registry refuses the agent for good, rather than at its timeout. */
function guard<T>(agent: Agent, work: Promise<T>): Promise<T> {
  const refused = (s: RegistryState) => new Error(`the registry refused this agent: ${s.phase === 'rejected' ? `${s.code}: ${s.message}` : s.phase}`);
  if (agent.registry.phase === 'rejected') return Promise.reject(refused(agent.registry));
  let off = () => {};
  const rejection = new Promise<never>((_, reject) => {
    off = agent.on('registry', (state) => state.phase === 'rejected' && reject(refused(state)));
  });
  return Promise.race([work, rejection]).finally(off);
}

/** Waits for an entry the command refers to, which a teammate may still have to send. */
async function settle(agent: Agent, id: string, timeoutMs: number): Promise<void> {
  if (agent.workstream.log.get(id)) return;
  await new Promise<void>((done) => {
    const timer = setTimeout(finish, timeoutMs);
    const off = agent.on('entry', ({ entry }) => entry.id === id && finish());
    function finish() {
      clearTimeout(timer);
      off();
      done();
    }
  });
  if (!agent.workstream.log.get(id)) throw new Error(`no entry ${id} in the log (nor from a teammate within ${timeoutMs / 1000} s)`);
}

/** join/run/tail: online until SIGINT or SIGTERM, doing the one-shot commands handed to it. */
async function online(options: AgentOptions, io: Io, json: boolean, what: 'all' | 'entries'): Promise<number> {
  const agent = await openAgent(options);
  // Nothing is awaited from here until all is listened to: events, signals and one-shot commands.
  // Until a signal, or a refusal that retrying cannot fix (an expired or revoked invite…).
  const stopped = new Promise<RegistryState | undefined>((done) => {
    const stop = (state?: RegistryState) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      offRegistry();
      done(state);
    };
    const onSignal = () => stop();
    const offRegistry = agent.on('registry', (state) => state.phase === 'rejected' && stop(state));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const print = <K extends keyof AgentEvents>(type: K, value: AgentEvents[K], human: string) => {
    if (what === 'entries' && type !== 'entry') return;
    io.out(json ? JSON.stringify({ type, ...(value as object) }) : human);
  };
  agent.on('entry', ({ entry, from }) => {
    // Printed once stored (the log announces nothing before): a printed entry survives a crash.
    if (json) io.out(JSON.stringify({ type: 'entry', ...(from ? { from } : {}), entry: entryToJson(entry, agent.nameOf(entry.author)) }));
    else io.out(formatEntry(agent, entry, false));
  });
  const peerLine = (p: AgentEvents['peer']) =>
    p.event === 'joined' ? `+ ${p.name} joined`
    : p.event === 'left' ? `- ${p.name} left`
    : p.event === 'held' ? `! ${p.name} held: a known name with a new key (not linked until a person accepts it)`
    : `~ ${p.name} ${p.link}`;
  agent.on('peer', (p) => print('peer', p, peerLine(p)));
  agent.on('registry', (s) => print('registry', s, `registry: ${s.phase}${s.phase === 'reconnecting' ? ` (${s.reason})` : s.phase === 'rejected' ? ` ${s.code}: ${s.message}` : ''}`));
  agent.on('problem', (p) => print('problem', p, `problem ${p.code}: ${p.message}`));
  const stopServing = serveControl(
    options.dataDir,
    (request, commandIo) => main(request.argv, commandIo, { running: agent, cwd: request.cwd }),
    (error) => io.err(`wsp-agent: one-shot commands cannot reach this agent (${error.message}): stop it before running one`),
  );
  if (what === 'all') io.out(json ? JSON.stringify({ type: 'ready', peerId: agent.peerId, name: agent.name, project: agent.project, entries: agent.entries().length }) : `${agent.name} (${agent.peerId}) in project ${agent.project}; ${agent.entries().length} entries stored`);
  const refusal = await stopped;
  stopServing();
  await agent.close();
  if (refusal?.phase === 'rejected') {
    io.err(`wsp-agent: the registry refused this agent: ${refusal.code}: ${refusal.message}`);
    return 1;
  }
  if (what === 'all') io.out(json ? JSON.stringify({ type: 'closed' }) : 'closed');
  return 0;
}

function formatEntry(agent: Agent, e: Entry, json: boolean): string {
  if (json) return JSON.stringify({ type: 'entry', entry: entryToJson(e, agent.nameOf(e.author)) });
  const who = agent.nameOf(e.author) ?? e.author;
  const body = e.body as Record<string, unknown>;
  const what =
    e.kind === 'message' ? String(body.text)
    : e.kind === 'task' ? `task ${e.ref ? `${e.ref} ` : ''}${String(body.state)}${body.progress !== undefined ? ` ${String(body.progress)}%` : ''}${body.title ? ` “${String(body.title)}”` : ''}${body.note ? ` — ${String(body.note)}` : ''}`
    : e.kind === 'status' ? `status ${String(body.state)}${body.text ? `: ${String(body.text)}` : ''}`
    : e.kind === 'file' ? `file “${String(body.name)}” (${String(body.size)} bytes)`
    : `${e.kind} ${JSON.stringify(entryToJson(e).body)}`;
  return `${new Date(e.ts).toISOString()}  ${e.id}  ${who}: ${what}`;
}

function entryId(text: string): string {
  if (!entryIdSchema.safeParse(text).success) throw new UsageError(`“${text}” is not an entry id (PEERID:SEQ, as \`log\` prints)`);
  return text;
}

function seconds(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || n <= 0) throw new UsageError(`--timeout: a number of seconds, not “${text}”`);
  return n;
}

function time(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--since: an ISO time or milliseconds since 1970, not “${text}”`);
  return ms;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// The library, from the same built file: `require('wsp-console/out/main/wsp-agent.js').openAgent`.
export { openAgent, entryToJson, Agent, AgentStorageError } from './agent';
export type { AgentOptions, AgentEvents, AgentPeer, AgentTask, AgentTasks, AgentState } from './agent';
