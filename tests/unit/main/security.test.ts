import { describe, expect, it } from 'vitest';
import { appFilePath, createSenderCheck, desktopCsp, inviteOrigins, registryOrigin } from '../../../src-main/security';
import { formatInviteLink } from '../../../src-shared/invite';
import { toBase64Url, utf8 } from '../../../src-shared/bytes';

const token = (exp: number) => `eyJhbGciOiJIUzI1NiJ9.${toBase64Url(utf8.encode(JSON.stringify({ project: 'p', exp })))}.c2ln`;

describe('desktop CSP', () => {
  it('allows WebSocket connections to exactly the configured registries, nothing else', () => {
    const csp = desktopCsp(['ws://127.0.0.1:7420', 'wss://wsp.example.org', 'ws://127.0.0.1:7420']);
    expect(csp).toContain("connect-src 'self' ws://127.0.0.1:7420 wss://wsp.example.org;");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
  });

  it('drops anything that is not a ws(s) origin, so a setting cannot widen the policy', () => {
    expect(desktopCsp(['*', "ws://x; script-src 'unsafe-inline'", 'https://evil.example'])).toContain("connect-src 'self';");
  });

  it('derives the registry origin from invite links and registry URLs', () => {
    expect(registryOrigin('http://10.0.0.5:7420/#invite=abc')).toBe('ws://10.0.0.5:7420');
    expect(registryOrigin('https://wsp.example.org/#invite=abc')).toBe('wss://wsp.example.org');
    expect(registryOrigin('ws://127.0.0.1:7420/ws')).toBe('ws://127.0.0.1:7420');
    expect(registryOrigin('file:///etc/passwd')).toBeUndefined();
    expect(registryOrigin('not a url')).toBeUndefined();
    expect(registryOrigin(undefined)).toBeUndefined();
  });
});

describe('the registries an invite lets into the CSP', () => {
  const now = 1_700_000_000_000;
  const valid = token(now / 1000 + 3600);

  it('are the saved invite’s instances, primary and alternates', () => {
    const link = formatInviteLink('https://a.example.org', valid, ['https://b.example.org:8443']);
    expect(inviteOrigins(link, now)).toEqual(['wss://a.example.org', 'wss://b.example.org:8443']);
  });

  it('are none once the invite has expired: it can join nowhere, so it widens nothing', () => {
    const link = formatInviteLink('https://a.example.org', token(now / 1000 - 1), ['https://b.example.org']);
    expect(inviteOrigins(link, now)).toEqual([]);
  });

  it('are none for an invite naming more alternates than a registry has instances (8 at most)', () => {
    const many = Array.from({ length: 9 }, (_, i) => `https://r${i}.example.org`);
    expect(inviteOrigins(formatInviteLink('https://a.example.org', valid, many), now)).toEqual([]);
    expect(inviteOrigins(formatInviteLink('https://a.example.org', valid, many.slice(0, 8)), now)).toHaveLength(9);
  });
});

describe('app:// files', () => {
  it('maps app://console/ paths into the renderer folder and refuses escapes and other hosts', () => {
    expect(appFilePath('/app/renderer', 'app://console/')).toBe('/app/renderer/index.html');
    expect(appFilePath('/app/renderer', 'app://console/assets/index.js')).toBe('/app/renderer/assets/index.js');
    expect(appFilePath('/app/renderer', 'app://console/..%2F..%2Fetc%2Fpasswd')).toBeUndefined();
    expect(appFilePath('/app/renderer', 'app://other/index.html')).toBeUndefined();
  });

  it('only the app’s own origin may call IPC', () => {
    const check = createSenderCheck('app://console/index.html');
    expect(check('app://console/index.html')).toBe(true);
    expect(check('app://console/index.html#peers')).toBe(true);
    expect(check('app://other/index.html')).toBe(false);
    expect(check('file:///app/renderer/index.html')).toBe(false);
    expect(check('https://console/index.html')).toBe(false);
  });
});
