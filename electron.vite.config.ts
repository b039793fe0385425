import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { defineConfig } from 'electron-vite';
import vue from '@vitejs/plugin-vue';
import { agentTypes } from './scripts/agent-types';
import { ENGINE_MODULES, eagerlyCompiledChunk } from './scripts/compile-hints';

/** Consoles and agents tell their peers their version (src-renderer/console-client.ts, src-agent/agent.ts). */
const { version } = JSON.parse(readFileSync(resolve(__dirname, 'package.json'), 'utf8')) as { version: string };

export default defineConfig({
  main: {
    define: { __APP_VERSION__: JSON.stringify(version) },
    // The agent library's declarations, out/main/wsp-agent.d.ts (see the file).
    plugins: [agentTypes(__dirname)],
    build: {
      rolldownOptions: {
        input: {
          index: resolve(__dirname, 'src-main/index.ts'),
          // The standalone registry CLI ships in the same build (bin/wsp-registry.js runs it).
          'wsp-registry': resolve(__dirname, 'src-main/registry/cli.ts'),
          // The headless agent too (bin/wsp-agent.js runs it): the renderer's engine, in Node.
          'wsp-agent': resolve(__dirname, 'src-agent/cli.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload cannot require node_modules: bundle everything but electron.
      externalizeDeps: false,
      rolldownOptions: { input: { index: resolve(__dirname, 'src-preload/index.ts') } },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src-renderer'),
    base: './',
    // The link engine compiled when the console loads, not in its first links (scripts/compile-hints.ts).
    plugins: [vue(), eagerlyCompiledChunk('engine', ENGINE_MODULES)],
    define: { __APP_VERSION__: JSON.stringify(version) },
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rolldownOptions: { input: resolve(__dirname, 'src-renderer/index.html') },
    },
  },
});
