/**
 * The registry's CLI refuses, before it starts, what would otherwise fail later or be ignored
 * without a word (found by a new-user pass): a STUN or TURN address browsers refuse (every
 * console's connections then threw), an invite address that is not http(s), and an option of
 * another command (`--ttl` to the server). Each is exit code 2 with a message that names it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../../bin/wsp-registry.js');
const cli = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 20_000 });
const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-cli-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const refused = (stderr: RegExp) => ({ code: 2, stderr: expect.stringMatching(stderr) });

describe('wsp-registry refuses bad options with exit code 2', () => {
  it('a STUN or TURN address a browser would refuse, naming the option and the address', async () => {
    const dir = dataDir();
    await expect(cli('--port', '0', '--data-dir', dir, '--stun-url', 'notaurl')).rejects.toMatchObject(refused(/--stun-url: “notaurl” does not start with stun: or stuns:/));
    await expect(cli('--port', '0', '--data-dir', dir, '--turn-url', 'http://turn.example.org', '--turn-secret', 's')).rejects.toMatchObject(
      refused(/--turn-url: “http:\/\/turn.example.org” does not start with turn: or turns:/),
    );
    await expect(cli('--port', '0', '--data-dir', dir, '--turn-url', 'turn:turn.example.org:3478?transport=sctp', '--turn-secret', 's')).rejects.toMatchObject(refused(/is not turn:HOST/));
  });

  it('an invite or registry address that is not http(s)', async () => {
    const dir = dataDir();
    await expect(cli('invite', '--project', 'team', '--data-dir', dir, '--public-url', 'ftp://x')).rejects.toMatchObject(refused(/take the http:\/\/ or https:\/\/ address .* not ftp:\/\/x/));
    await expect(cli('invite', '--project', 'team', '--data-dir', dir, '--public-url', 'notaurl')).rejects.toMatchObject(refused(/not notaurl/));
    await expect(cli('--port', '0', '--data-dir', dir, '--alternate-url', 'wss://other.example.org')).rejects.toMatchObject(refused(/not wss:\/\/other.example.org/));
    const { stdout } = await cli('invite', '--project', 'team', '--data-dir', dir, '--public-url', 'https://wsp.example.org');
    expect(stdout).toMatch(/^https:\/\/wsp\.example\.org\/#invite=/);
  });

  it('an option of another command, instead of ignoring it', async () => {
    const dir = dataDir();
    await expect(cli('--port', '0', '--data-dir', dir, '--ttl', '5m')).rejects.toMatchObject(refused(/--ttl is not an option of the registry server/));
    await cli('invite', '--project', 'team', '--data-dir', dir);
    await expect(cli('invite', 'list', '--data-dir', dir, '--project', 'team')).rejects.toMatchObject(refused(/--project is not an option of `invite list`/));
    await expect(cli('invite', '--project', 'team', '--data-dir', dir, '--redis', 'redis://127.0.0.1')).rejects.toMatchObject(refused(/--redis is not an option of `invite`/));
  });
});
