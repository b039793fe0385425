/**
 * README's "Run it" says which Node.js runs what, and package.json `engines` says the same: every
 * Node version it accepts satisfies every installed package's own `engines` except the desktop
 * app's Electron tooling, whose minimum README names separately, with each package `npm ci` warns
 * about.
 */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// semver ships without types; only these calls are used.
const semver = createRequire(__filename)('semver') as {
  subset(sub: string, dom: string): boolean;
  minVersion(range: string): { major: number; minor: number; compare(other: { major: number; minor: number }): number } | null;
};

const root = resolve(__dirname, '../../..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');

/** The `electron` package and what it fetches the Electron binary with: only `npm start` needs them. */
const isElectronTooling = (path: string) => /node_modules\/(electron|@electron\/[^/]+|@electron-internal\/[^/]+)$/.test(path);
const nodeRanges = Object.entries(lock.packages).flatMap(([path, p]) => (path && p.engines?.node ? [{ path, range: p.engines.node }] : []));
/** "20.19" for 20.19.0, "24" for 24.0.0: how README writes a minimum. */
const short = (range: string) => {
  const v = semver.minVersion(range)!;
  return v.minor === 0 ? `${v.major}` : `${v.major}.${v.minor}`;
};
const readmeRow = (startsWith: string) => readme.split('\n').find((line) => line.startsWith(startsWith)) ?? '';

describe('Node.js versions (README, package.json engines, installed packages)', () => {
  it('every Node version package.json accepts suits every installed package but the Electron tooling', () => {
    const unsuited = nodeRanges.filter(({ path, range }) => !isElectronTooling(path) && !semver.subset(pkg.engines.node, range));
    expect(unsuited).toEqual([]);
  });

  it('README names the same versions for the registry, web console and tests, and the Electron tooling’s minimum for the desktop app', () => {
    const row = readmeRow('| the registry');
    for (const part of pkg.engines.node.split('||')) expect(row).toContain(`${short(part)} or later`);
    const electron = nodeRanges.filter(({ path }) => isElectronTooling(path)).map(({ range }) => range);
    expect(electron.length).toBeGreaterThan(0);
    const needed = electron.reduce((a, b) => (semver.minVersion(a)!.compare(semver.minVersion(b)!) >= 0 ? a : b));
    expect(readmeRow('| the desktop app')).toContain(`${short(needed)} or later`);
  });

  it('README names every package `npm ci` warns about (EBADENGINE) on a Node version package.json accepts', () => {
    const warned = nodeRanges.filter(({ range }) => !semver.subset(pkg.engines.node, range)).map(({ path }) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(warned.length).toBeGreaterThan(0);
    const start = readme.indexOf('`npm ci` warns that');
    expect(start).toBeGreaterThan(-1);
    const paragraph = readme.slice(start, readme.indexOf('\n\n', start));
    expect(warned.filter((name) => !paragraph.includes(`\`${name}\``))).toEqual([]);
  });
});
