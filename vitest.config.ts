import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const { version } = JSON.parse(readFileSync(new URL('./package.json', `file://${__dirname}/`), 'utf8')) as { version: string };

export default defineConfig({
  // As the build does (electron.vite.config.ts): the version consoles and agents tell their peers.
  define: { __APP_VERSION__: JSON.stringify(version) },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 15_000,
    // A worker blocked in native code would otherwise hang the whole run (see the file).
    setupFiles: ['tests/support/vitest-watchdog.ts'],
  },
});
