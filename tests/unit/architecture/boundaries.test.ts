import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { resolve } from 'node:path';

const eslint = new ESLint({ cwd: resolve(__dirname, '../../..') });

async function violations(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(__dirname, '../../..', filePath) });
  return result!.messages.filter((m) => m.ruleId?.includes('no-restricted')).map((m) => m.message);
}

describe('process boundaries (lint)', () => {
  it('src-shared may not import Node built-ins, Electron or renderer code, nor use DOM or Buffer globals', async () => {
    const nodeImport = await violations('src-shared/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;");
    expect(nodeImport).toHaveLength(1);
    expect(nodeImport[0]).toContain('src-shared runs in every process: no Node built-ins.');
    expect(await violations('src-shared/x.ts', "import { app } from 'electron';\nexport const a = app;")).toHaveLength(1);
    expect(await violations('src-shared/x.ts', "import { x } from '../src-renderer/y';\nexport const a = x;")).toHaveLength(1);
    expect(await violations('src-shared/x.ts', 'export const a = document.title + Buffer.from("x");')).toHaveLength(2);
    expect(await violations('src-shared/x.ts', "import nacl from 'tweetnacl';\nexport const a = nacl;")).toEqual([]);
  });

  it('the registry and other main-process logic may not import Electron; only the glue may', async () => {
    expect(await violations('src-main/registry/x.ts', "import { app } from 'electron';\nexport const a = app;")).toHaveLength(1);
    expect(await violations('src-main/settings-store.ts', "import { app } from 'electron';\nexport const a = app;")).toHaveLength(1);
    expect(await violations('src-main/index.ts', "import { app } from 'electron';\nexport const a = app;")).toEqual([]);
  });

  it('the renderer may not import Electron or Node built-ins', async () => {
    expect(await violations('src-renderer/x.ts', "import { ipcRenderer } from 'electron';\nexport const a = ipcRenderer;")).toHaveLength(1);
    expect(await violations('src-renderer/x.ts', "import { join } from 'node:path';\nexport const a = join;")).toHaveLength(1);
  });

  it('the engine stays browser code (no node-datachannel, no agent glue); the agent uses the engine but no GUI, main or Electron', async () => {
    expect(await violations('src-renderer/engine/x.ts', "import { RTCPeerConnection } from 'node-datachannel/polyfill';\nexport const a = RTCPeerConnection;")).toHaveLength(1);
    expect(await violations('src-renderer/engine/x.ts', "import { createNodeSocket } from '../../src-agent/websocket';\nexport const a = createNodeSocket;")).toHaveLength(1);
    expect(await violations('src-agent/x.ts', "import { useSessionStore } from '../src-renderer/stores/session.store';\nexport const a = useSessionStore;")).toHaveLength(1);
    expect(await violations('src-agent/x.ts', "import { createRegistry } from '../src-main/registry/registry';\nexport const a = createRegistry;")).toHaveLength(1);
    expect(await violations('src-agent/x.ts', "import { ref } from 'vue';\nexport const a = ref;")).toHaveLength(1);
    expect(await violations('src-agent/x.ts', "import { LinkManager } from '../src-renderer/engine/link-manager';\nimport { parseInvite } from '../src-shared/invite';\nimport WebSocket from 'ws';\nexport const a = [LinkManager, parseInvite, WebSocket];")).toEqual([]);
  });

  it('the engine (the composition root and all it assembles) imports no Vue, Pinia, store, component or view; the stores may import the engine', async () => {
    expect(await violations('src-renderer/engine/console.ts', "import { ref } from 'vue';\nexport const a = ref;")).toEqual([expect.stringContaining('no Vue')]);
    expect(await violations('src-renderer/engine/x.ts', "import { defineStore } from 'pinia';\nexport const a = defineStore;")).toEqual([expect.stringContaining('no Pinia')]);
    expect(await violations('src-renderer/engine/x.ts', "import { useSessionStore } from '../stores/session.store';\nexport const a = useSessionStore;")).toEqual([expect.stringContaining('the GUI')]);
    expect(await violations('src-renderer/engine/link/x.ts', "import { useWorkstreamStore } from '../../stores/workstream.store';\nexport const a = useWorkstreamStore;")).toHaveLength(1);
    expect(await violations('src-renderer/engine/x.ts', "import App from '../App.vue';\nexport const a = App;")).toHaveLength(1);
    expect(await violations('src-renderer/engine/x.ts', "import { webHost } from '../host/web-host';\nexport const a = webHost;")).toHaveLength(1);
    // The renderer's own rules still hold in the engine.
    expect(await violations('src-renderer/engine/x.ts', "import { join } from 'node:path';\nexport const a = join;")).toHaveLength(1);
    expect(await violations('src-renderer/engine/x.ts', "import { openWorkstream } from './workstream/workstream';\nimport { parseInvite } from '../../src-shared/invite';\nexport const a = [openWorkstream, parseInvite];")).toEqual([]);
    expect(await violations('src-renderer/stores/x.ts', "import { ref } from 'vue';\nimport { openConsole } from '../engine/console';\nexport const a = [ref, openConsole];")).toEqual([]);
  });

  it('zod is imported only through src-shared/zod (configured before any schema is built)', async () => {
    const direct = "import { z } from 'zod';\nexport const a = z.string();";
    for (const file of ['src-shared/x.ts', 'src-main/registry/x.ts', 'src-renderer/engine/x.ts']) {
      expect(await violations(file, direct)).toEqual([expect.stringContaining('Import z from src-shared/zod')]);
    }
    expect(await violations('src-shared/zod.ts', direct)).toEqual([]);
    expect(await violations('src-renderer/x.ts', "import { z } from '../src-shared/zod';\nexport const a = z.string();")).toEqual([]);
  });

  it('browser specs take `test` from tests/support/test (the page-noise check), not from Playwright', async () => {
    expect(await violations('tests/browser/x.spec.ts', "import { test } from '@playwright/test';\ntest('x', () => {});")).toEqual([expect.stringContaining('tests/support/test')]);
    expect(await violations('tests/browser/x.spec.ts', "import { chromium } from '@playwright/test';\nimport { test } from '../support/test';\ntest('x', () => chromium.name());")).toEqual([]);
  });

  it('the whole tree passes the lint', async () => {
    const results = await eslint.lintFiles(['src-shared', 'src-main', 'src-preload', 'src-renderer', 'src-agent']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(problems).toEqual([]);
  });
});
