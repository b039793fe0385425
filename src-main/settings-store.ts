/** Settings persisted as JSON in the user-data folder, validated on read and on every change. */
import { join } from 'node:path';
import { settingsSchema, settingsPatchSchema, type Settings, type SettingsPatch } from '../src-shared/ipc';
import { readJson, writeJsonAtomic } from './json-file';

export const DEFAULT_REGISTRY_PORT = 7420;

export function defaultSettings(displayName: string): Settings {
  return settingsSchema.parse({ displayName, embeddedRegistry: { enabled: true, port: DEFAULT_REGISTRY_PORT, project: 'team' } });
}

export class SettingsStore {
  private current: Settings;
  private readonly path: string;

  constructor(dir: string, fallbackName: string) {
    this.path = join(dir, 'settings.json');
    // A damaged (e.g. truncated) or outdated file falls back to defaults rather than stopping the app.
    let raw: unknown;
    try {
      raw = readJson(this.path);
    } catch {
      raw = undefined;
    }
    const saved = settingsSchema.safeParse(raw);
    this.current = saved.success ? saved.data : defaultSettings(fallbackName);
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  update(patch: SettingsPatch): Settings {
    const valid = settingsPatchSchema.parse(patch);
    const { invite, embeddedRegistry, links, ...rest } = valid;
    const next: Settings = settingsSchema.parse({
      ...this.current,
      ...rest,
      links: { ...this.current.links, ...links },
      embeddedRegistry: { ...this.current.embeddedRegistry, ...embeddedRegistry },
      ...(invite === undefined ? {} : { invite: invite ?? undefined }),
    });
    if (invite === null) delete next.invite;
    writeJsonAtomic(this.path, next);
    this.current = next;
    return this.get();
  }
}
