/**
 * zod, as every module of the app imports it (ESLint refuses 'zod' anywhere else), so this
 * setting is in force before any schema is built. `jitless`: zod would otherwise probe with
 * `new Function('')` whether it may compile parsers. The consoles' pages forbid eval (CSP
 * `script-src 'self'`), so the probe fails there anyway — but the browser still reports it as a
 * CSP violation (Firefox and Chromium, on every load). In Node (the registry, the desktop app's
 * main process) compiled parsers would be ~0.2 µs faster per frame (0.8 against 1.0 µs to decode
 * and check a signal here), against ~18 µs of registry CPU per relayed frame (docs/BENCHMARKS.md):
 * not worth a second configuration. The signals the registry relays skip zod anyway when they are
 * written as encoders write them (readSignalFrame in protocol/codec.ts, same checks).
 */
import { z } from 'zod';

z.config({ jitless: true });

export { z };
