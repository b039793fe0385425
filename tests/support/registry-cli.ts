/**
 * The standalone registry's CLI bundled from the sources under test (not a stale `npm run build`),
 * for tests that run it as its own process with node.
 */
import { join, resolve } from 'node:path';

/** Bundles TypeScript entry points (name → path) for Node into `outDir`, as `<name>.mjs` or `<name>.cjs`. */
export async function bundleForNode(outDir: string, entries: Record<string, string>, format: 'es' | 'cjs'): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      minify: false,
      rollupOptions: { input: entries, output: { entryFileNames: format === 'es' ? '[name].mjs' : '[name].cjs', format } },
    },
  });
}

/** Bundles src-main/registry/cli.ts into `outDir`; resolves to the script's path. */
export async function buildRegistryCli(outDir: string): Promise<string> {
  await bundleForNode(outDir, { 'wsp-registry': resolve(__dirname, '../../src-main/registry/cli.ts') }, 'cjs');
  return join(outDir, 'wsp-registry.cjs');
}
