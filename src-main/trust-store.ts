/** Pinned peer keys and verified marks of the desktop console, in the user-data folder. */
import { join } from 'node:path';
import { trustRecordsSchema, type TrustRecord } from '../src-shared/ipc';
import { readJson, writeJsonAtomic } from './json-file';

export class TrustStore {
  private readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'trust.json');
  }

  load(): TrustRecord[] {
    let raw: unknown;
    try {
      raw = readJson(this.path);
    } catch {
      raw = undefined;
    }
    const parsed = trustRecordsSchema.safeParse(raw ?? []);
    return parsed.success ? parsed.data : [];
  }

  save(records: TrustRecord[]): void {
    writeJsonAtomic(this.path, trustRecordsSchema.parse(records));
  }
}
