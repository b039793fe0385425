import { describe, expect, it } from 'vitest';
import { InviteAuthority } from '../../../src-main/registry/invites';
import { formatInviteLink, InviteError, parseInvite, readInviteClaims, signalingUrlFor } from '../../../src-shared/invite';
import { toBase64Url, utf8 } from '../../../src-shared/bytes';

const NOW = 1_700_000_000_000;
const authority = new InviteAuthority(new Uint8Array(32).fill(42), undefined, () => NOW);

function expectInviteError(text: string, message: RegExp): void {
  let thrown: unknown;
  try {
    parseInvite(text);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InviteError);
  expect((thrown as Error).message).toMatch(message);
}

const fakeToken = (payload: unknown) => `eyJhbGciOiJIUzI1NiJ9.${toBase64Url(utf8.encode(JSON.stringify(payload)))}.c2ln`;

describe('invite links', () => {
  it('round-trips a real registry token through formatInviteLink and parseInvite', async () => {
    const token = await authority.issue({ project: 'team-alpha', ttlMs: 3_600_000, maxUses: 5 });
    const link = formatInviteLink('http://192.168.1.20:7420', token);
    expect(link).toBe(`http://192.168.1.20:7420/#invite=${token}`);

    const parsed = parseInvite(link);
    expect(parsed.token).toBe(token);
    expect(parsed.registryUrl).toBe('ws://192.168.1.20:7420/ws');
    expect(parsed.claims).toEqual({ id: expect.any(String), project: 'team-alpha', expiresAt: NOW + 3_600_000, maxUses: 5 });
    // The parsed token is still one the registry accepts.
    expect(authority.check(parsed.token)).toMatchObject({ ok: true, project: 'team-alpha', maxUses: 5 });
  });

  it('has no maxUses when the invite is unlimited, and expiresAt is in milliseconds', async () => {
    const token = await authority.issue({ project: 'beta', ttlMs: 90_000 });
    const { claims } = parseInvite(formatInviteLink('http://localhost:7420', token));
    expect(claims).toEqual({ id: expect.any(String), project: 'beta', expiresAt: NOW + 90_000 });
    expect('maxUses' in claims).toBe(false);
  });

  it('an https registry gives a wss signaling URL, and the default port is kept implicit', async () => {
    const token = await authority.issue({ project: 'team', ttlMs: 60_000 });
    expect(parseInvite(formatInviteLink('https://registry.example.org', token)).registryUrl).toBe('wss://registry.example.org/ws');
    expect(parseInvite(formatInviteLink('https://registry.example.org:8443/', token)).registryUrl).toBe('wss://registry.example.org:8443/ws');
  });

  it('tolerates surrounding whitespace and a trailing slash on the origin', async () => {
    const token = await authority.issue({ project: 'team', ttlMs: 60_000 });
    const link = formatInviteLink('http://10.0.0.5:7420///', token);
    expect(link).toBe(`http://10.0.0.5:7420/#invite=${token}`);
    expect(parseInvite(`  ${link}\n`).token).toBe(token);
  });

  it('signalingUrlFor drops any path, query and hash of the origin', () => {
    expect(signalingUrlFor('http://host:1234/some/path?x=1#y')).toBe('ws://host:1234/ws');
  });
});

describe('invite errors a user can act on', () => {
  it('text that is not a URL', () => {
    expectInviteError('just some words', /paste the whole invite link/);
    expectInviteError('', /paste the whole invite link/);
  });

  it('a URL with another scheme', () => {
    expectInviteError(`ftp://registry.example.org/#invite=${fakeToken({ project: 'p', exp: 1 })}`, /starts with http:\/\/ or https:\/\//);
  });

  it('a registry link without #invite=', () => {
    expectInviteError('http://registry.example.org:7420/', /#invite=… is missing/);
    expectInviteError('http://registry.example.org:7420/#other=abc', /#invite=… is missing/);
    expectInviteError('http://registry.example.org:7420/#invite=', /#invite=… is missing/);
  });

  it('a token that is not three dot-separated parts', () => {
    expectInviteError('http://registry.example.org/#invite=abc', /not an invite/);
    expectInviteError('http://registry.example.org/#invite=a.b', /not an invite/);
    expectInviteError('http://registry.example.org/#invite=a.b.c.d', /not an invite/);
  });

  it('a token whose payload cannot be read', () => {
    expectInviteError('http://registry.example.org/#invite=a.!!!.c', /damaged/);
    expectInviteError(`http://registry.example.org/#invite=a.${toBase64Url(utf8.encode('not json'))}.c`, /damaged/);
    expectInviteError(`http://registry.example.org/#invite=a.${toBase64Url(utf8.encode('null'))}.c`, /damaged/);
    expectInviteError(`http://registry.example.org/#invite=a.${toBase64Url(utf8.encode('7'))}.c`, /damaged/);
  });

  it('a token naming no project or expiry', () => {
    expectInviteError(`http://registry.example.org/#invite=${fakeToken({ exp: 1 })}`, /no project or expiry/);
    expectInviteError(`http://registry.example.org/#invite=${fakeToken({ project: 'p' })}`, /no project or expiry/);
  });

  it('readInviteClaims reads a bare token too, with its id (jti) when it has one', () => {
    expect(readInviteClaims(fakeToken({ project: 'p', exp: 10, max_uses: 2 }))).toEqual({ project: 'p', expiresAt: 10_000, maxUses: 2 });
    expect(readInviteClaims(fakeToken({ project: 'p', exp: 10, jti: 'c0ffee' }))).toEqual({ id: 'c0ffee', project: 'p', expiresAt: 10_000 });
  });
});

describe('invites naming several registry instances', () => {
  it('carry alternates after the primary, in order, and ignore anything that is not http(s)', async () => {
    const token = await new InviteAuthority(new Uint8Array(32).fill(9)).issue({ project: 'team', ttlMs: 60_000 });
    const link = formatInviteLink('https://a.example.org', token, ['https://b.example.org:8443', 'http://10.0.0.7:7420']);
    const parsed = parseInvite(link);
    expect(parsed.registryUrl).toBe('wss://a.example.org/ws');
    expect(parsed.registryUrls).toEqual(['wss://a.example.org/ws', 'wss://b.example.org:8443/ws', 'ws://10.0.0.7:7420/ws']);
    expect(parseInvite(`${link},javascript%3Aalert(1),not-a-url`).registryUrls).toHaveLength(3);
  });

  it('name at most 8 alternates: each is an origin the desktop CSP lets the page connect to', async () => {
    const token = await new InviteAuthority(new Uint8Array(32).fill(9)).issue({ project: 'team', ttlMs: 60_000 });
    const alternates = Array.from({ length: 9 }, (_, i) => `https://r${i}.example.org`);
    expect(parseInvite(formatInviteLink('https://a.example.org', token, alternates.slice(0, 8))).registryUrls).toHaveLength(9);
    expectInviteError(formatInviteLink('https://a.example.org', token, alternates), /more than 8 other registry instances/);
  });
});
