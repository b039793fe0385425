/**
 * An ICE server a browser refuses makes `new RTCPeerConnection` throw, and a link that cannot make
 * a connection never reaches its relay fallback either (found by a new-user pass: a registry
 * started with `--stun-url notaurl` left every peer row blank). The registry's servers are checked
 * as they come, and a connection the browser still refuses is made without servers; each problem
 * is said once, and links go on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeRegistry } from './fake-registry';
import { StubConnection } from './stub-connection';

let registry: FakeRegistry;
afterEach(() => registry?.close());

describe('ICE servers a browser would refuse', () => {
  it('the registry’s are left out, said once, and the links go on with the usable ones', async () => {
    registry = new FakeRegistry();
    registry.iceServers = [{ urls: ['notaurl'] }, { urls: ['stun:stun.example.org:3478'] }, { urls: ['turn:turn.example.org'] }];
    const configs: RTCConfiguration[] = [];
    const ada = await registry.console('Ada', undefined, undefined, (configuration) => {
      configs.push(configuration);
      return new StubConnection() as unknown as RTCPeerConnection;
    });
    const problems: string[] = [];
    ada.links.on('problem', ({ code, message }) => problems.push(`${code}: ${message}`));
    const bob = await registry.console('Bob');
    registry.connect(ada);
    registry.connect(bob);
    registry.connect(ada); // a reconnect hands out the same servers: nothing said twice
    await expect.poll(() => ada.links.snapshot(bob.identity.peerId)?.state).toBe('relay');
    expect(problems).toEqual([
      'ICE_SERVER_REFUSED: the registry’s ICE server was left out: “notaurl” does not start with stun:, stuns:, turn: or turns:',
      'ICE_SERVER_REFUSED: the registry’s ICE server was left out: a TURN server (turn:turn.example.org) needs a user name and a password',
    ]);
    expect(configs.at(-1)?.iceServers).toEqual([{ urls: ['stun:stun.example.org:3478'] }]);
  });

  it('a connection the browser refuses for its servers is made without them, and said', async () => {
    registry = new FakeRegistry();
    registry.iceServers = [{ urls: ['stun:stun.example.org'] }];
    const made: RTCConfiguration[] = [];
    const ada = await registry.console('Ada', undefined, undefined, (configuration) => {
      if (configuration.iceServers?.length) throw new SyntaxError("Failed to construct 'RTCPeerConnection': this browser's own rule");
      made.push(configuration);
      return new StubConnection() as unknown as RTCPeerConnection;
    });
    const problems: string[] = [];
    ada.links.on('problem', ({ message }) => problems.push(message));
    const bob = await registry.console('Bob');
    registry.connect(ada);
    registry.connect(bob);
    await expect.poll(() => ada.links.snapshot(bob.identity.peerId)?.state).toBe('relay');
    expect(made.length).toBeGreaterThan(0);
    expect(problems).toEqual(["this browser refused the ICE servers (Failed to construct 'RTCPeerConnection': this browser's own rule): links go on without STUN or TURN"]);
  });
});
