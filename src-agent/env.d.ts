/** package.json's version, put in by the build (electron.vite.config.ts) and by vitest.config.ts. */
declare const __APP_VERSION__: string;
