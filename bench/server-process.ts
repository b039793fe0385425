/**
 * A benchmark's server as its own Node process (capacity.bench.ts, peerjs.bench.ts), so that
 * neither the load generator nor the browser driver shares its event loop, CPU time or memory.
 * The script prints "listening <port>" when ready; with `ipc`, it answers requests
 * (servers/ipc.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  child: ChildProcess;
  /** A request over IPC (servers/ipc.ts); only for a server started with `ipc`. */
  request<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
}

export function startServer(name: string, script: string, env: Record<string, string> = {}, options: { ipc?: boolean } = {}): Promise<ServerProcess> {
  // BENCH_CPU_PROF=DIR writes each server's V8 CPU profile there (for looking into a result).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...profile, script], { stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])], env: { ...process.env, ...env } });
  let serial = 0;
  const pending = new Map<number, { done: (value: unknown) => void; fail: (error: Error) => void }>();
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiting?.fail(new Error(`${name}: ${message.error}`));
    else waiting?.done(message.result);
  });
  child.once('exit', (code) => {
    for (const waiting of pending.values()) waiting.fail(new Error(`${name} exited with ${code}`));
    pending.clear();
  });
  const request = <T>(cmd: string, args: Record<string, unknown> = {}) =>
    new Promise<T>((done, fail) => {
      const id = ++serial;
      pending.set(id, { done: done as (value: unknown) => void, fail });
      child.send({ id, cmd, ...args });
    });
  return new Promise((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`${name} did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        done({ name, pid: child.pid!, port: Number(match[1]), child, request });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line.startsWith('memory ')) console.log(`${name} ${line}`);
    });
    child.once('exit', (code) => fail(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

export function stopServer(server: ServerProcess): Promise<void> {
  return new Promise((done) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return done();
    const kill = setTimeout(() => server.child.kill('SIGKILL'), 5000);
    server.child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    server.child.kill('SIGTERM');
  });
}
