/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
/** package.json's version, defined by the renderer build (electron.vite.config.ts). */
declare const __APP_VERSION__: string;
