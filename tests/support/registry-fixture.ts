import { Writable } from 'node:stream';
import pino from 'pino';
import { createRegistry, type RegistryHandle, type RegistryOptions } from '../../src-main/registry/registry';

/** A registry on a free loopback port whose JSON log lines are kept for assertions. */
export async function startTestRegistry(options: RegistryOptions = {}): Promise<RegistryHandle & { logs: string[] }> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const registry = await createRegistry({ logger: pino({ level: 'debug' }, sink), ...options });
  return Object.assign(registry, { logs });
}
