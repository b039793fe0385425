/**
 * The built console (out/renderer, which `npm test` builds before the unit tests): the link engine
 * in a chunk of its own that carries V8's compile hint, the GUI in another that does not
 * (scripts/compile-hints.ts), and the engine depending on nothing of the GUI's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { COMPILE_HINT } from '../../../scripts/compile-hints';

const ROOT = resolve(__dirname, '../../../out/renderer');

describe('the console bundle (out/renderer)', () => {
  let assets: string[] = [];
  let engine: string[] = [];
  const read = (file: string) => readFileSync(resolve(ROOT, 'assets', file), 'utf8');
  beforeAll(() => {
    if (!existsSync(resolve(ROOT, 'index.html'))) throw new Error('out/renderer is missing: run `npx electron-vite build` first');
    assets = readdirSync(resolve(ROOT, 'assets')).filter((f) => f.endsWith('.js'));
    engine = assets.filter((f) => f.startsWith('engine-'));
  });

  it('has one engine chunk, compiled when the page loads, holding the link engine and not the GUI', () => {
    expect(engine).toHaveLength(1);
    const code = read(engine[0]!);
    expect(code.split('\n', 1)[0]).toBe(COMPILE_HINT);
    expect(code).toContain("CHANNEL_LABEL = \"workstream-v1\"");
    expect(code).not.toMatch(/from "\.\/index-/); // nothing of the GUI's chunk
    expect(code).not.toContain('createApp');
  });

  it('compiles the GUI lazily: no other chunk carries the hint', () => {
    for (const file of assets.filter((f) => !engine.includes(f))) expect(read(file)).not.toContain(COMPILE_HINT);
  });

  it('has the page fetch the engine chunk beside its entry, under the page’s CSP', () => {
    const html = readFileSync(resolve(ROOT, 'index.html'), 'utf8');
    expect(html).toContain(`<link rel="modulepreload" crossorigin href="./assets/${engine[0]}">`);
    expect(html).toMatch(/script-src 'self'/);
  });
});

