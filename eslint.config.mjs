// Lint, and the process boundaries the architecture depends on (see docs/ARCHITECTURE.md).
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import vueParser from 'vue-eslint-parser';

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'crypto', 'http', 'https', 'net', 'stream', 'url', 'util', 'child_process', 'worker_threads', 'events', 'buffer'];
const nodeImports = NODE_BUILTINS.map((name) => ({ group: [name], message: 'src-shared runs in every process: no Node built-ins.' }));

const RENDERER_PATHS = [
  { name: 'electron', message: 'The renderer reaches the host only through HostApi.' },
  { name: 'ws', message: 'The renderer uses the browser WebSocket.' },
  { name: 'node-datachannel', message: 'The renderer uses the browser RTCPeerConnection; Node glue lives in src-agent.' },
  { name: 'node-datachannel/polyfill', message: 'The renderer uses the browser RTCPeerConnection; Node glue lives in src-agent.' },
];
const RENDERER_PATTERNS = [
  ...NODE_BUILTINS.map((name) => ({ group: [name], message: 'The renderer runs in Chromium: no Node built-ins.' })),
  { group: ['**/src-main/**', '**/src-preload/**', '**/src-agent/**'], message: 'The renderer does not import main, preload or agent code.' },
];

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', '.test-output/**'] },
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parser: vueParser, parserOptions: { parser: tseslint.parser, sourceType: 'module' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/multi-word-component-names': 'off',
    },
  },
  {
    // zod is set up once (jitless: no eval probe under the pages' CSP) before any schema is built.
    files: ['**/*.{ts,vue}'],
    ignores: ['src-shared/zod.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'zod', message: 'Import z from src-shared/zod: it configures zod before any schema is built.' }] }],
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Wire protocol, identity and the IPC contract: no Node, no DOM-only APIs, no Electron, no UI.
    files: ['src-shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'electron', message: 'src-shared must not import Electron.' },
          { name: 'vue', message: 'src-shared must not import Vue.' },
          { name: 'pinia', message: 'src-shared must not import Pinia.' },
          { name: 'ws', message: 'src-shared must not import ws.' },
        ],
        patterns: [...nodeImports, { group: ['**/src-main/**', '**/src-renderer/**', '**/src-preload/**'], message: 'src-shared depends on nothing but itself.' }],
      }],
      'no-restricted-globals': ['error',
        { name: 'window', message: 'src-shared must not touch the DOM.' },
        { name: 'document', message: 'src-shared must not touch the DOM.' },
        { name: 'localStorage', message: 'src-shared must not touch browser storage.' },
        { name: 'Buffer', message: 'src-shared must not use Node’s Buffer: use Uint8Array.' },
        { name: 'process', message: 'src-shared must not use Node’s process.' },
      ],
    },
  },
  {
    // Node-only main-process logic (everything but the Electron glue in src-main/index.ts).
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/index.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'Only src-main/index.ts may import Electron: keep this module testable in Node.' }],
        patterns: [{ group: ['**/src-renderer/**', '**/src-preload/**'], message: 'main does not import renderer or preload code.' }],
      }],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,vue}'],
    rules: { 'no-restricted-imports': ['error', { paths: RENDERER_PATHS, patterns: RENDERER_PATTERNS }] },
  },
  {
    // The engine (openConsole, the composition root, and all it assembles) is shared by the GUI,
    // the test harness and the headless agent: no Vue, no Pinia, no stores, components or views.
    files: ['src-renderer/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...RENDERER_PATHS,
          { name: 'vue', message: 'The engine runs without a GUI (agents, harness): no Vue. Stores map engine state to views.' },
          { name: 'pinia', message: 'The engine runs without a GUI (agents, harness): no Pinia. Stores map engine state to views.' },
        ],
        patterns: [
          ...RENDERER_PATTERNS,
          { group: ['@vue/*', '**/stores/**', '**/components/**', '**/views/**', '**/host/**', '**/*.vue', '**/App.vue', '**/src-renderer/main'], message: 'The engine imports only the engine and src-shared: the GUI (stores, components, views, host) depends on it, not the other way round.' },
        ],
      }],
    },
  },
  {
    // The headless agent: the renderer's engine (never its GUI) plus Node glue for what the engine
    // takes from browser globals (WebSocket, RTCPeerConnection).
    files: ['src-agent/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'electron', message: 'The agent runs in plain Node: no Electron.' },
          { name: 'vue', message: 'The agent has no GUI: no Vue.' },
          { name: 'pinia', message: 'The agent has no GUI: no Pinia.' },
        ],
        patterns: [{ regex: 'src-(main|preload)/|src-renderer/(?!engine/)', message: 'The agent uses the engine (src-renderer/engine) and src-shared only.' }],
      }],
    },
  },
  {
    files: ['src-preload/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['zod', '**/src-shared/zod', '**/src-shared/ipc', '!**/src-shared/ipc-channels'], message: 'The sandboxed preload stays tiny: import only ipc-channels (types from ipc are fine).', allowTypeImports: true }] }],
    },
  },
  {
    // Every browser test goes through the page-noise check (tests/support/test.ts).
    files: ['tests/browser/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@playwright/test', importNames: ['test'], message: 'Import test from tests/support/test: it fails a test on console errors and CSP violations it did not expect.' }] }],
    },
  },
);
