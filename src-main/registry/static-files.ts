/** Serves the built web console (a folder of static files) with a strict CSP; nothing outside it. */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** The web console may connect to this registry and to the other instances of it, nothing else. */
export function webConsoleCsp(otherInstances: string[] = []): string {
  const origins = otherInstances.flatMap((url) => {
    try {
      const u = new URL(url);
      return [`${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}`];
    } catch {
      return [];
    }
  });
  return (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
    `connect-src 'self'${origins.length ? ` ${origins.join(' ')}` : ''}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
  );
}

/**
 * Returns false when the path is not a file under `root` (the caller answers 404). Under means
 * really under: a symbolic link inside the root that leads out of it (to /etc, to a home folder)
 * is followed to where it leads and refused there.
 */
export function serveStatic(root: string, urlPath: string, res: ServerResponse, csp = webConsoleCsp()): boolean {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return false;
  }
  if (relative.endsWith('/')) relative += 'index.html';
  const resolvedRoot = normalize(root + sep);
  const file = normalize(join(resolvedRoot, relative));
  if (!file.startsWith(resolvedRoot)) return false; // ../ escapes
  let real: string;
  try {
    const realRoot = realpathSync(resolvedRoot);
    real = realpathSync(file);
    if (!real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return false;
    if (!statSync(real).isFile()) return false;
  } catch {
    return false;
  }
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': extname(file) === '.html' ? 'no-cache' : 'public, max-age=3600',
  });
  createReadStream(real).pipe(res);
  return true;
}
