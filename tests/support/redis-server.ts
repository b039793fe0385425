/** A real redis-server on 127.0.0.1 for scale-out tests, started and stopped by the tests. */
import { canConnect } from './ports';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop). */
  start(): Promise<void>;
}

export function redisAvailable(): boolean {
  return existsSync('/usr/bin/redis-server') || existsSync('/usr/local/bin/redis-server');
}

export async function startRedis(port = 36379 + Math.floor(Math.random() * 1000)): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start: launch,
    stop: () =>
      new Promise((resolve) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
