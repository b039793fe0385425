/**
 * The agent library's declarations (README, "Agents"): the build writes out/main/wsp-agent.d.ts
 * beside out/main/wsp-agent.js, so a program that requires the library, in TypeScript or in
 * JavaScript with checkJs, gets its types. tsc emits the declarations of src-agent/cli.ts (the
 * bundle's entry: its exports are the library's) and what they import, under out/types, with
 * tsconfig.agent-types.json; tests/unit/agent/library-types.test.ts compiles programs against them.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import type { Plugin } from 'vite';

/** Emits the declarations; throws with tsc's messages if they could not be. */
export function emitAgentTypes(root: string): void {
  const fail = (diagnostics: readonly ts.Diagnostic[]) =>
    new Error(`the agent library's declarations (tsconfig.agent-types.json):\n${ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' })}`);
  const config = ts.getParsedCommandLineOfConfigFile(resolve(root, 'tsconfig.agent-types.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw fail([d]);
    },
  });
  if (!config || config.errors.length) throw fail(config?.errors ?? []);
  rmSync(resolve(root, 'out/types'), { recursive: true, force: true }); // none left from modules since removed
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  // Only what stops the declarations being right: a type error elsewhere is the type check's to report.
  const { diagnostics } = program.emit();
  const problems = [...program.getSyntacticDiagnostics(), ...diagnostics];
  if (problems.length) throw fail(problems);
  mkdirSync(resolve(root, 'out/main'), { recursive: true });
  writeFileSync(resolve(root, 'out/main/wsp-agent.d.ts'), "export * from '../types/src-agent/cli';\n");
}

/** For the main build: after it has written out/main (which it empties first), once per build. */
export function agentTypes(root: string): Plugin {
  return {
    name: 'wsp-agent-types',
    apply: 'build',
    closeBundle() {
      if (!this.meta.watchMode) emitAgentTypes(root);
    },
  };
}
