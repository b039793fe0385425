/**
 * A small JSON object in the registry's data folder that more than one process writes: the running
 * registry and the `wsp-registry invite` CLI. Reads see the other process's writes (the file is
 * read again when its identity, size or time changed); writes read first, change, and replace the
 * file atomically (a reader never sees half a file). Without a path it lives in memory.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class SharedJsonFile<T extends object> {
  private value: T;
  private stamp = '';

  constructor(
    private readonly path: string | undefined,
    private readonly valid: (value: unknown) => value is T,
  ) {
    this.value = {} as T;
    this.read(true);
  }

  /** The contents, as last written by any process. */
  get(): T {
    this.read(false);
    return this.value;
  }

  update(change: (value: T) => void): void {
    this.read(false);
    change(this.value);
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.value, null, 1), { mode: 0o600 });
    renameSync(`${this.path}.tmp`, this.path);
    this.stamp = this.stampOf() ?? '';
  }

  /** At startup a damaged file is an error the operator must see; later, the last good contents stay. */
  private read(strict: boolean): void {
    const stamp = this.stampOf();
    if (!this.path || stamp === undefined || stamp === this.stamp) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      if (strict) throw new Error(`${this.path} is not valid JSON: ${(error as Error).message}`);
      return;
    }
    if (!this.valid(parsed)) {
      if (strict) throw new Error(`${this.path} does not hold what the registry wrote there`);
      return;
    }
    this.value = parsed;
    this.stamp = stamp;
  }

  private stampOf(): string | undefined {
    if (!this.path) return undefined;
    try {
      const stat = statSync(this.path);
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      return undefined; // not written yet
    }
  }
}
