/** Runs the built `wsp-registry` CLI as a separate process, as an operator would. */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const BIN = resolve(__dirname, '../../bin/wsp-registry.js');

export interface StandaloneRegistry {
  httpUrl: string;
  dataDir: string;
  process: ChildProcess;
  invite(project: string, ...extra: string[]): Promise<string>;
  stop(): Promise<void>;
  /** Kills it without warning (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

export async function startStandaloneRegistry(extraArgs: string[] = [], dataDir = mkdtempSync(join(tmpdir(), 'wsp-standalone-'))): Promise<StandaloneRegistry> {
  const child = spawn(process.execPath, [BIN, '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--no-stun', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const httpUrl = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`wsp-registry did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (https?:\/\/[\d.]+:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`wsp-registry exited with ${code}: ${out}`)));
  });
  return {
    httpUrl,
    dataDir,
    process: child,
    async invite(project, ...extra) {
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'invite', '--project', project, '--data-dir', dataDir, '--public-url', httpUrl, ...extra]);
      return stdout.trim();
    },
    stop: () =>
      new Promise((resolveStop) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
        child.once('exit', () => resolveStop());
        child.kill('SIGTERM');
      }),
    kill: () =>
      new Promise((resolveKill) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolveKill();
        child.once('exit', () => resolveKill());
        child.kill('SIGKILL');
      }),
  };
}
