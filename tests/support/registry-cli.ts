/**
 * The standalone registry's CLI bundled from the sources under test (not a stale `npm run build`),
 * for tests that run it as its own process with node.
 */
import { join, resolve } from 'node:path';

/** Bundles src-main/registry/cli.ts into `outDir`; resolves to the script's path. */
export async function buildRegistryCli(outDir: string): Promise<string> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      minify: false,
      rollupOptions: { input: { 'wsp-registry': resolve(__dirname, '../../src-main/registry/cli.ts') }, output: { entryFileNames: '[name].cjs', format: 'cjs' } },
    },
  });
  return join(outDir, 'wsp-registry.cjs');
}
