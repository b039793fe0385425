/**
 * The agent library is typed (README, "Agents"): the build writes out/main/wsp-agent.d.ts beside
 * out/main/wsp-agent.js (scripts/agent-types.ts). Programs that use the library are compiled here
 * against the built file, as a Node program would be: `lib: es2022`, `types: node`, no DOM, and
 * skipLibCheck off, so a declaration that names a DOM-only type fails the compile. A correct program
 * compiles, the shipped example type-checks as JavaScript (checkJs), and misuses fail with the
 * errors a user would see.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import type { AgentLinkState, AgentProblem } from '../../../src-agent/agent';
import type { LinkState } from '../../../src-renderer/engine/link/link-state';
import type { WorkstreamProblem } from '../../../src-renderer/engine/workstream/workstream';

const root = resolve(__dirname, '../../..');
const LIBRARY = resolve(root, 'out/main/wsp-agent.js');
const DECLARATIONS = resolve(root, 'out/main/wsp-agent.d.ts');
const EXAMPLE = resolve(root, 'examples/task-bot.mjs');

/** What README's library example does, in TypeScript. */
const GOOD = `
import { openAgent, AgentStorageError, type Agent, type AgentOptions, type AgentTask } from '${LIBRARY}';

async function main(): Promise<void> {
  const options: AgentOptions = { invite: 'http://registry:7420/#invite=x', name: 'build-bot', dataDir: '/var/lib/build-bot' };
  const agent: Agent = await openAgent(options);
  agent.on('entry', ({ entry, from }) => console.log(entry.id, entry.kind, entry.body, from?.length));
  agent.on('peer', (peer) => console.log(peer.name, peer.event, peer.link === 'direct'));
  agent.on('problem', (problem) => console.log(problem.code, problem.message));
  const entry = await agent.post('build #42 passed');
  const delivered: boolean = await agent.delivered(entry);
  const task = await agent.tasks.create('deploy #42');
  await agent.tasks.claim(task.id, 'on it');
  await agent.tasks.progress(task.id, 50);
  await agent.tasks.done(task.id);
  const open: AgentTask[] = agent.tasks.list().filter((t) => t.state === 'open');
  await agent.status('working', 'deploying');
  await agent.share('dist/app.tar.gz');
  await agent.download(entry.id, '/tmp/out');
  console.log(delivered, open.length, agent.peers().map((p) => p.peerId), agent.peerId, agent.project, agent.registry.phase);
  await agent.close();
}
main().catch((error: unknown) => console.error(error instanceof AgentStorageError ? error.message : error));
`;

/** Misuses, each on a line that names the error tsc must report there. */
const BAD = `
import { openAgent } from '${LIBRARY}';

async function main(): Promise<void> {
  const agent = await openAgent({ invite: 'http://registry:7420/#invite=x', name: 'build-bot' }); // TS2345: no dataDir
  await agent.post(42); // TS2345: a number is not a message
  agent.on('entry', ({ entry }) => console.log(entry.text)); // TS2339: an entry has no text (its body has)
  await agent.status('sleeping'); // TS2345: not an agent state
  await agent.tasks.progress('task-id', '50%'); // TS2345: percent is a number
}
void main();
`;

interface Compiled {
  /** file → "line: TScode" for each error in it. */
  errors: Map<string, string[]>;
  files: string[];
}

/** Compiles the files as one Node program (not written out), against the built library. */
function compile(files: string[]): Compiled {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: ['node'],
    typeRoots: [resolve(root, 'node_modules/@types')],
    skipLibCheck: false,
    allowJs: true,
    checkJs: true,
  };
  const program = ts.createProgram(files, options);
  const errors = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file?.fileName ?? '(options)';
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    errors.set(file, [...(errors.get(file) ?? []), `${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ').slice(0, 160)}`]);
  }
  return { errors, files: program.getSourceFiles().map((f) => f.fileName) };
}

describe('the agent library’s declarations (out/main/wsp-agent.d.ts)', () => {
  it('the types spelled out for the library are the engine’s', () => {
    // Checked by the type check (tsconfig.node.json includes tests): agent.ts spells these out so
    // that its declarations need no engine module that names WebRTC's DOM types.
    expectTypeOf<AgentLinkState>().toEqualTypeOf<LinkState>();
    expectTypeOf<AgentProblem>().toEqualTypeOf<WorkstreamProblem>();
  });

  it('a Node program compiles against them; the example type-checks; misuses fail to compile', (context) => {
    if (!existsSync(DECLARATIONS)) {
      const message = `${DECLARATIONS} is missing: build first (npm run build)`;
      // npm test builds before the unit tests, so on CI a missing file is the build's failure.
      if (process.env.CI) throw new Error(message);
      context.skip(message);
    }
    const dir = mkdtempSync(join(tmpdir(), 'wsp-agent-types-'));
    try {
      const good = join(dir, 'good.ts');
      const bad = join(dir, 'bad.ts');
      writeFileSync(good, GOOD);
      writeFileSync(bad, BAD);
      const { errors, files } = compile([good, bad, EXAMPLE]);

      expect(errors.get(good) ?? [], 'a correct program').toEqual([]);
      expect(errors.get(EXAMPLE) ?? [], 'examples/task-bot.mjs with checkJs').toEqual([]);
      const expected = BAD.split('\n').flatMap((line, i) => (/\/\/ (TS\d+)/.exec(line)?.[1] ? [`${i + 1}: ${/\/\/ (TS\d+)/.exec(line)![1]}`] : []));
      expect((errors.get(bad) ?? []).map((e) => e.split(' ').slice(0, 2).join(' ')), (errors.get(bad) ?? []).join('\n')).toEqual(expected);
      // Nothing else: not in the declarations, not in what they import.
      expect(Object.fromEntries([...errors].filter(([file]) => file !== bad))).toEqual({});
      // The DOM and Vue stay out of a Node program that uses the library.
      expect(files.filter((f) => /\/lib\.dom[.\w]*\.d\.ts$|\/node_modules\/(@vue|vue)\//.test(f))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
