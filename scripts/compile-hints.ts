/**
 * The link engine in a chunk of its own that V8 compiles whole when the page loads (Chromium's
 * explicit compile hints: `//# allFunctionsCalledOnLoad` at the top of a script). V8 otherwise
 * compiles a function when it is first called, on the main thread: a console's first links (a
 * burst of teammates joining) then paid ~100 ms of compilation across eleven fresh pages, in the
 * busiest moment (docs/BENCHMARKS.md, "Burst: the engine compiled when the console loads"). With the hint the engine is
 * compiled while the script streams in, off the main thread, before the console joins anything.
 * Only the engine and what it runs on: the GUI (Vue, the graph) stays lazily compiled, so the
 * hint costs the console's start what `console_load_ms` measures.
 */
import type { Plugin } from 'vite';

export const COMPILE_HINT = '//# allFunctionsCalledOnLoad';

/** The modules of the engine chunk: the link engine, the wire protocol, and the libraries they run on. */
export const ENGINE_MODULES = /[\\/](src-renderer[\\/]engine|src-shared|node_modules[\\/](@msgpack|@noble|tweetnacl|zod))[\\/]/;

/**
 * Puts the modules `test` matches into a chunk named `name`, with the compile hint at its top.
 * `enabled: false` (benchmarks only) builds the same chunk without the hint.
 */
export function eagerlyCompiledChunk(name: string, test: RegExp, enabled = true): Plugin {
  return {
    name: 'wsp-eagerly-compiled-chunk',
    config: () => ({ build: { rolldownOptions: { output: { codeSplitting: { groups: [{ name, test }] } } } } }),
    renderChunk(code, chunk) {
      if (!enabled || chunk.name !== name) return null;
      return { code: `${COMPILE_HINT}\n${code}`, map: null };
    },
  };
}
