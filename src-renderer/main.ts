import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import './style.css';
import { detectHost } from './host';
import { useSessionStore } from './stores/session.store';
import { useEmbeddedRegistryStore } from './stores/embedded-registry.store';

async function boot(): Promise<void> {
  const app = createApp(App);
  app.use(createPinia());
  const host = await detectHost();
  const session = useSessionStore();
  await session.init(host);
  await useEmbeddedRegistryStore().init(host);
  app.mount('#app');
  // An invite link opened in a browser (…/#invite=…) joins at once; otherwise rejoin the last one.
  const fromLink = location.hash.includes('invite=') ? location.href : undefined;
  const link = fromLink ?? session.settings?.invite;
  if (link) {
    if (fromLink) history.replaceState(null, '', location.pathname); // keep the token out of the address bar
    await session.join(link, { startup: true }).catch((error: Error) => console.warn(`could not rejoin: ${error.message}`));
  }
}

void boot();
