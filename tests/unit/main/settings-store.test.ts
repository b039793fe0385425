import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REGISTRY_PORT, SettingsStore } from '../../../src-main/settings-store';
import type { SettingsPatch } from '../../../src-shared/ipc';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsp-settings-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const INVITE = 'http://10.0.0.5:7420/#invite=a.b.c';
/** What every settings file holds besides name, invite and embedded registry, by default. */
const DEFAULTS = { links: { fallbackAfterMs: 10_000, iceTransportPolicy: 'all', iceServers: [] }, relayWarningShare: 0.8, theme: 'system', maxFileMiB: 1024 };

describe('SettingsStore', () => {
  it('starts with defaults: the given name and the embedded registry enabled on port 7420', () => {
    const store = new SettingsStore(tempDir(), 'ada');
    expect(DEFAULT_REGISTRY_PORT).toBe(7420);
    expect(store.get()).toEqual({ displayName: 'ada', embeddedRegistry: { enabled: true, port: 7420, project: 'team' }, ...DEFAULTS });
    expect(store.get().invite).toBeUndefined();
  });

  it('persists an update across a new SettingsStore on the same folder', () => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    const updated = store.update({ displayName: 'Ada Lovelace', invite: INVITE, embeddedRegistry: { port: 9000 } });
    expect(updated).toEqual({
      displayName: 'Ada Lovelace',
      invite: INVITE,
      embeddedRegistry: { enabled: true, port: 9000, project: 'team' },
      ...DEFAULTS,
    });
    expect(store.get()).toEqual(updated);

    const reopened = new SettingsStore(dir, 'someone-else');
    expect(reopened.get()).toEqual(updated);
  });

  it('a partial embeddedRegistry patch keeps the other registry settings', () => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    store.update({ embeddedRegistry: { project: 'alpha' } });
    store.update({ embeddedRegistry: { enabled: false } });
    expect(new SettingsStore(dir, 'ada').get().embeddedRegistry).toEqual({ enabled: false, port: 7420, project: 'alpha' });
  });

  it('get() returns a copy: mutating it does not change the settings', () => {
    const store = new SettingsStore(tempDir(), 'ada');
    const copy = store.get();
    copy.embeddedRegistry.port = 1;
    copy.displayName = 'mallory';
    expect(store.get()).toMatchObject({ displayName: 'ada', embeddedRegistry: { port: 7420 } });
  });

  it.each<[string, unknown]>([
    ['an empty display name', { displayName: '' }],
    ['a blank display name', { displayName: '   ' }],
    ['port 70000', { embeddedRegistry: { port: 70000 } }],
    ['a fractional port', { embeddedRegistry: { port: 80.5 } }],
    ['an invalid project', { embeddedRegistry: { project: 'no spaces allowed' } }],
    ['an unknown key', { colour: 'dark' }],
    ['an unknown theme', { theme: 'sepia' }],
    ['a file size limit of 0', { maxFileMiB: 0 }],
  ])('refuses %s and leaves the stored settings unchanged', (_name, patch) => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    store.update({ displayName: 'Ada', invite: INVITE });
    const before = store.get();
    const fileBefore = readFileSync(join(dir, 'settings.json'), 'utf8');

    expect(() => store.update(patch as SettingsPatch)).toThrow();
    expect(store.get()).toEqual(before);
    expect(readFileSync(join(dir, 'settings.json'), 'utf8')).toBe(fileBefore);
    expect(new SettingsStore(dir, 'other').get()).toEqual(before);
  });

  it('a refused update on a fresh store writes no file', () => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    expect(() => store.update({ embeddedRegistry: { port: 70000 } })).toThrow();
    expect(existsSync(join(dir, 'settings.json'))).toBe(false);
  });

  it('invite: null forgets the invite, also after a restart', () => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    store.update({ invite: INVITE });
    const after = store.update({ invite: null });
    expect(after.invite).toBeUndefined();
    expect('invite' in after).toBe(false);
    expect('invite' in new SettingsStore(dir, 'ada').get()).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'))).not.toHaveProperty('invite');
  });

  it('a patch without invite keeps the invite', () => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    store.update({ invite: INVITE });
    expect(store.update({ displayName: 'Ada' }).invite).toBe(INVITE);
  });

  it('falls back to defaults when settings.json holds valid JSON of the wrong shape', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ displayName: '', embeddedRegistry: { port: 'x' } }));
    expect(new SettingsStore(dir, 'ada').get()).toEqual({ displayName: 'ada', embeddedRegistry: { enabled: true, port: 7420, project: 'team' }, ...DEFAULTS });
  });

  it('falls back to defaults when settings.json is truncated (not JSON at all)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'settings.json'), '{"displayName": "Ad');
    expect(new SettingsStore(dir, 'ada').get().displayName).toBe('ada');
  });

  it('rejects unknown keys inside embeddedRegistry', () => {
    const store = new SettingsStore(tempDir(), 'ada');
    expect(() => store.update({ embeddedRegistry: { host: '0.0.0.0' } } as never)).toThrow();
  });

  it('link settings: a bad fallback or ICE server is refused with a message; a valid one persists', () => {
    const dir = tempDir();
    const store = new SettingsStore(dir, 'ada');
    expect(() => store.update({ links: { fallbackAfterMs: 0 } })).toThrow(/at least 1 s/);
    expect(() => store.update({ links: { iceServers: [{ urls: ['http://x'] }] } })).toThrow(/does not start with stun:, stuns:, turn: or turns:/);
    store.update({ links: { fallbackAfterMs: 20_000 }, theme: 'dark' });
    const reopened = new SettingsStore(dir, 'x').get();
    expect(reopened.links).toEqual({ fallbackAfterMs: 20_000, iceTransportPolicy: 'all', iceServers: [] });
    expect(reopened.theme).toBe('dark');
  });
});
