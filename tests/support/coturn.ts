/**
 * A real coturn (TURN/STUN) server on 127.0.0.1 for tests, sharing a REST secret with the
 * registry. Started and stopped by the tests; everything lives in a temporary folder.
 */
import { canConnect } from './ports';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Coturn {
  port: number;
  secret: string;
  stop(): Promise<void>;
}

export function coturnAvailable(): boolean {
  return ['/usr/bin/turnserver', '/usr/local/bin/turnserver'].some((p) => existsSync(p));
}

export async function startCoturn(port = 34780 + Math.floor(Math.random() * 1000)): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-coturn-'));
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url');
  const child: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--min-port=49152',
      '--max-port=49352',
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=wsp.test',
      '--allow-loopback-peers',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-multicast-peers',
      `--userdb=${join(dir, 'turndb')}`,
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      '--log-file=stdout',
      '--simple-log',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`coturn did not start on 127.0.0.1:${port}: ${output.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    secret,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
