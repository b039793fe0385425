/** Revoking an invite before it expires (issue 16, item 9): in process, from the CLI, across a restart. */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startTestRegistry } from '../../support/registry-fixture';
import { TestClient } from '../../support/registry-client';
import { InviteAuthority, REVOCATION_POLL_MS } from '../../../src-main/registry/invites';
import type { RegistryHandle } from '../../../src-main/registry/registry';

const BIN = resolve(__dirname, '../../../bin/wsp-registry.js');
const cli = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args]);

let registries: RegistryHandle[] = [];
let clients: TestClient[] = [];
let dirs: string[] = [];

async function registry(options: Parameters<typeof startTestRegistry>[0] = {}) {
  const r = await startTestRegistry(options);
  registries.push(r);
  return r;
}
async function join_(r: RegistryHandle, token: string, name: string) {
  const c = await TestClient.join(r.url, token, { name });
  clients.push(c);
  return c;
}
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-revoke-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await Promise.all(registries.map((r) => r.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  registries = [];
  clients = [];
  dirs = [];
});

describe('revoking an invite', () => {
  it('refuses new joins with INVITE_REVOKED (4012) and disconnects the consoles it admitted, whom the others are told were removed (peer_left kicked); other invites are untouched', async () => {
    const r = await registry();
    const leaked = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const kept = await r.createInvite({ project: 'alpha', ttlMs: 60_000 });
    const mallory = await join_(r, leaked.token, 'Mallory');
    const ada = await join_(r, kept.token, 'Ada');
    await r.revokeInvite(leaked.id);

    expect(await mallory.waitForClose()).toBe(4012);
    expect(mallory.errors().at(-1)).toMatchObject({ code: 'INVITE_REVOKED' });
    expect(mallory.closeReason).toBe('INVITE_REVOKED');
    // `kicked`, not `closed`: its peers close even their direct links to it (link-manager.ts).
    expect(await ada.waitFor((f) => f.type === 'peer_left' && f.peer_id === mallory.identity.peerId)).toMatchObject({ reason: 'kicked' });
    const again = await join_(r, leaked.token, 'Mallory');
    expect(again.errors()[0]).toMatchObject({ code: 'INVITE_REVOKED', message: expect.stringMatching(/revoked/) });
    expect(await again.waitForClose()).toBe(4012);
    expect((await join_(r, kept.token, 'Bob')).welcome.peers.map((p) => p.display_name)).toEqual(['Ada']);
    expect(ada.closeCode).toBeUndefined();
    // A console that just leaves is `closed`: its direct links may carry on (an outage of its own).
    const bob = await join_(r, kept.token, 'Bob');
    await bob.close();
    expect(await ada.waitFor((f) => f.type === 'peer_left' && f.peer_id === bob.identity.peerId)).toMatchObject({ reason: 'closed' });
    expect(r.listInvites().map((i) => [i.id, i.revoked])).toEqual(
      expect.arrayContaining([
        [leaked.id, true],
        [kept.id, false],
      ]),
    );
  });

  it('takes an invite link or token as well as an id, and says so when it names nothing revocable', async () => {
    const authority = new InviteAuthority(crypto.getRandomValues(new Uint8Array(32)));
    const { token, invite } = await authority.issueRecorded({ project: 'alpha', ttlMs: 60_000 });
    expect(await authority.revoke(`https://wsp.example.org/#invite=${token}`)).toMatchObject({ id: invite.id, project: 'alpha', alreadyRevoked: false });
    expect(authority.isRevoked(invite.id)).toBe(true);
    expect(await authority.revoke(token)).toMatchObject({ id: invite.id, alreadyRevoked: true });
    await expect(authority.revoke('0b6d1a4e-8d7c-4f3e-9a51-2f0e8c7b6a59')).rejects.toThrow(/no invite .* was issued from this data folder: pass the invite link or token/);
    const foreign = await new InviteAuthority(crypto.getRandomValues(new Uint8Array(32))).issue({ project: 'alpha', ttlMs: 60_000 });
    await expect(authority.revoke(foreign)).rejects.toThrow(/not an invite id, link or token signed by this registry/);
    await expect(authority.revoke('nonsense')).rejects.toThrow(/not an invite id/);
  });

  it('an expired invite needs no revoking: the operator is told', async () => {
    let clock = Date.now();
    const authority = new InviteAuthority(crypto.getRandomValues(new Uint8Array(32)), undefined, () => clock);
    const { invite } = await authority.issueRecorded({ project: 'alpha', ttlMs: 60_000 });
    clock += 61_000;
    await expect(authority.revoke(invite.id)).rejects.toThrow(/already expired/);
  });

  it('survives a restart of the registry on the same data folder', async () => {
    const dir = dataDir();
    const first = await registry({ dataDir: dir });
    const { token, id } = await first.createInvite({ project: 'alpha', ttlMs: 60_000 });
    await first.revokeInvite(id);
    await first.close();
    const second = await registry({ dataDir: dir });
    const refused = await join_(second, token, 'Mallory');
    expect(refused.errors()[0]?.code).toBe('INVITE_REVOKED');
  });
});

describe('wsp-registry invite list | revoke (another process, the running registry’s data folder)', () => {
  it('the CLI lists the invites and revokes one; the running registry refuses it and disconnects its consoles within a second or so', { timeout: 30_000 }, async () => {
    const dir = dataDir();
    const r = await registry({ dataDir: dir });
    const leaked = await r.createInvite({ project: 'alpha', ttlMs: 3_600_000 });
    const ada = await join_(r, leaked.token, 'Ada');
    // An invite the CLI issues into the same folder is listed too; its id is on stderr.
    const issued = await cli('invite', '--project', 'beta', '--max-uses', '3', '--data-dir', dir, '--public-url', r.httpUrl);
    expect(issued.stdout.trim()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#invite=/);
    const cliId = /invite ([0-9a-f-]{36})/.exec(issued.stderr)?.[1];
    expect(cliId).toBeDefined();

    const listed = (await cli('invite', 'list', '--data-dir', dir)).stdout;
    expect(listed).toMatch(new RegExp(`^${leaked.id}\\s+alpha\\s+.*unlimited\\s+valid$`, 'm'));
    expect(listed).toMatch(new RegExp(`^${cliId}\\s+beta\\s+.*0/3\\s+valid$`, 'm'));

    const started = Date.now();
    const revoked = await cli('invite', 'revoke', leaked.id, '--data-dir', dir);
    expect(revoked.stdout).toMatch(new RegExp(`^revoked: invite ${leaked.id} to project alpha`));
    expect(await ada.waitForClose(REVOCATION_POLL_MS * 5)).toBe(4012);
    expect(Date.now() - started).toBeLessThan(REVOCATION_POLL_MS * 5);
    expect((await join_(r, leaked.token, 'Mallory')).errors()[0]?.code).toBe('INVITE_REVOKED');
    expect((await cli('invite', 'list', '--data-dir', dir)).stdout).toMatch(new RegExp(`^${leaked.id}\\s+alpha\\s+.*revoked$`, 'm'));
  });

  it('refuses a folder no registry used, and an id it does not know, with a message and exit code 2', async () => {
    const empty = dataDir();
    await expect(cli('invite', 'list', '--data-dir', empty)).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/holds no registry data/) });
    const dir = dataDir();
    await cli('invite', '--project', 'alpha', '--data-dir', dir);
    await expect(cli('invite', 'revoke', '0b6d1a4e-8d7c-4f3e-9a51-2f0e8c7b6a59', '--data-dir', dir)).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/no invite .* was issued from this data folder/) });
    await expect(cli('invite', 'revoke', '--data-dir', dir)).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/needs one invite/) });
  });
});
