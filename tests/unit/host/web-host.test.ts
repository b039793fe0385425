import { describe, expect, it } from 'vitest';
import { createWebHost } from '../../../src-renderer/host/web-host';

/** A browser Storage in memory: localStorage (shared by the origin's tabs) or one tab's sessionStorage. */
class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  /** Everything stored, as one string (to look for a token anywhere in it). */
  dump(): string {
    return JSON.stringify([...this.items]);
  }
}

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJwcm9qZWN0IjoidGVhbSIsImV4cCI6OTk5OTk5OTk5OX0.c2VjcmV0LXNpZ25hdHVyZQ';
const LINK = `http://127.0.0.1:7420/#invite=${TOKEN}`;

describe('the web console keeps the invite token with the tab, not the origin', () => {
  it('a reload rejoins with it; localStorage never holds it; a new tab (a new console) does not have it', async () => {
    const local = new MemoryStorage();
    const tab = new MemoryStorage();
    const host = await createWebHost(local, tab);
    await host.updateSettings({ invite: LINK, displayName: 'Ada' });
    expect(local.dump()).not.toContain(TOKEN);
    expect(tab.dump()).toContain(TOKEN);

    const reloaded = await createWebHost(local, tab);
    expect(await reloaded.getSettings()).toMatchObject({ invite: LINK, displayName: 'Ada' });

    const otherTab = await createWebHost(local, new MemoryStorage());
    const settings = await otherTab.getSettings();
    expect(settings.invite).toBeUndefined();
    expect(settings.displayName).toBe('Ada'); // the other settings are the origin's, as before

    await reloaded.updateSettings({ invite: null });
    expect(tab.dump()).not.toContain(TOKEN);
    await expect((await createWebHost(local, tab)).getSettings()).resolves.not.toHaveProperty('invite');
  });

  it('an invite an earlier version left in localStorage moves to the first tab that opens, and out of localStorage', async () => {
    const local = new MemoryStorage();
    local.setItem('wsp.settings.v1', JSON.stringify({ displayName: 'Ada', invite: LINK, embeddedRegistry: { enabled: false, port: 0, project: 'team' } }));
    const tab = new MemoryStorage();
    const host = await createWebHost(local, tab);
    expect((await host.getSettings()).invite).toBe(LINK);
    expect(local.dump()).not.toContain(TOKEN);
    await expect((await createWebHost(local, new MemoryStorage())).getSettings()).resolves.not.toHaveProperty('invite');
  });
});
