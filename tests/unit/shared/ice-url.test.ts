/**
 * STUN and TURN addresses are checked where they come in, because one a browser refuses makes
 * every `new RTCPeerConnection` throw (found by a new-user pass: `--stun-url notaurl` left every
 * link blank, without the relay). The registry's CLI, the console's settings and what a registry
 * sends all use these checks.
 */
import { describe, expect, it } from 'vitest';
import { iceServerProblem, iceUrlProblem } from '../../../src-shared/ice-url';
import { settingsSchema } from '../../../src-shared/ipc';

describe('iceUrlProblem', () => {
  it('takes the addresses of RFC 7064 and 7065: host names, IPv4, IPv6 in brackets, a port, a TURN transport', () => {
    for (const url of [
      'stun:stun.l.google.com:19302',
      'stuns:stun.example.org',
      'stun:192.0.2.1',
      'stun:[2001:db8::1]:3478',
      'turn:turn.example.org:3478?transport=udp',
      'turn:turn.example.org:3478?transport=tcp',
      'turns:turn.example.org:443?transport=tcp',
      'turn:127.0.0.1',
    ]) {
      expect(iceUrlProblem(url), url).toBeUndefined();
    }
  });

  it('refuses, with the reason, what a browser would refuse', () => {
    expect(iceUrlProblem('notaurl')).toBe('“notaurl” does not start with stun:, stuns:, turn: or turns:');
    expect(iceUrlProblem('http://turn.example.org')).toMatch(/does not start with/);
    expect(iceUrlProblem('stun:')).toBe('“stun:” is not stun:HOST[:PORT]');
    expect(iceUrlProblem('stun:host name')).toMatch(/is not stun:HOST/);
    expect(iceUrlProblem('stun:example.org?transport=udp')).toMatch(/is not stun:HOST/);
    expect(iceUrlProblem('turn:example.org:3478?transport=sctp')).toMatch(/is not turn:HOST\[:PORT\]\[\?transport=udp\|tcp\]/);
    expect(iceUrlProblem('turn:example.org:70000')).toBe('“turn:example.org:70000”: the port must be 1–65535');
    expect(iceUrlProblem('STUN:example.org')).toMatch(/does not start with/);
  });

  it('checks the kind a registry option expects', () => {
    expect(iceUrlProblem('turn:example.org', 'stun')).toBe('“turn:example.org” does not start with stun: or stuns:');
    expect(iceUrlProblem('stun:example.org', 'turn')).toBe('“stun:example.org” does not start with turn: or turns:');
  });
});

describe('iceServerProblem', () => {
  it('a TURN server needs its user name and password; STUN needs neither', () => {
    expect(iceServerProblem({ urls: ['turn:example.org:3478'] })).toBe('a TURN server (turn:example.org:3478) needs a user name and a password');
    expect(iceServerProblem({ urls: 'turn:example.org:3478', username: 'u' })).toMatch(/needs a user name and a password/);
    expect(iceServerProblem({ urls: ['turn:example.org:3478'], username: 'u', credential: 'p' })).toBeUndefined();
    expect(iceServerProblem({ urls: ['stun:example.org'] })).toBeUndefined();
    expect(iceServerProblem({ urls: ['stun:example.org', 'bad'] })).toMatch(/“bad”/);
    expect(iceServerProblem({ urls: [] })).toBe('an ICE server needs an address');
  });
});

describe('saved settings from a version with looser rules', () => {
  it('load without the servers a browser would refuse, keeping the rest (the name, the other servers)', () => {
    const saved = {
      displayName: 'Ada',
      links: { fallbackAfterMs: 15_000, iceTransportPolicy: 'all', iceServers: [{ urls: ['turn:turn.example.org:3478'] }, { urls: ['stun:stun.example.org'] }] },
      embeddedRegistry: { enabled: true, port: 7420, project: 'team' },
    };
    const loaded = settingsSchema.parse(saved);
    expect(loaded.displayName).toBe('Ada');
    expect(loaded.links).toEqual({ fallbackAfterMs: 15_000, iceTransportPolicy: 'all', iceServers: [{ urls: ['stun:stun.example.org'] }] });
  });
});
