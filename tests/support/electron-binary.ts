import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Where the Electron binary is, without `require('electron')` (which would try to download it).
 * Returns a reason instead when there is none, e.g. on machines without internet access.
 */
export function findElectronBinary(): { path: string } | { reason: string } {
  const pkg = resolve(__dirname, '../../node_modules/electron');
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const pathFile = join(pkg, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : 'electron';
  const candidate = override ? join(override, relative) : join(pkg, 'dist', relative);
  if (existsSync(candidate)) return { path: candidate };
  return {
    reason:
      `no Electron binary at ${candidate}: electron ≥ 42 downloads it on first use and this machine cannot ` +
      '(run `npx electron --version` once with internet access, or set ELECTRON_OVERRIDE_DIST_PATH)',
  };
}
