import { createApp } from 'vue';
import { createPinia } from 'pinia';
import App from './App.vue';
import './style.css';
import { detectHost } from './host';
import { onInviteOpened, takeInviteFromAddress } from './host/invite-address';
import { useSessionStore } from './stores/session.store';
import { useEmbeddedRegistryStore } from './stores/embedded-registry.store';
import { useNotificationsStore } from './stores/notifications.store';
import { missingBrowserFeatures, unsupportedBrowserMessage } from './engine/browser-support';

async function boot(): Promise<void> {
  const missing = missingBrowserFeatures();
  if (missing.length) {
    // Said at once, instead of a console that joins and then never links.
    const message = document.createElement('p');
    message.className = 'panel unsupported-browser error-text';
    message.setAttribute('role', 'alert');
    message.dataset.testid = 'unsupported-browser';
    message.textContent = unsupportedBrowserMessage(missing);
    document.getElementById('app')!.replaceChildren(message);
    console.error(message.textContent);
    return;
  }
  const app = createApp(App);
  app.use(createPinia());
  const host = await detectHost();
  const session = useSessionStore();
  await session.init(host);
  await useEmbeddedRegistryStore().init(host);
  useNotificationsStore().start(host);
  app.mount('#app');
  // An invite link opened in a browser (…/#invite=…) joins at once, now or whenever one is opened
  // in this tab later; one that cannot be used is explained in the Join box, like a pasted one.
  onInviteOpened((link) => void session.openInvite(link));
  const fromLink = takeInviteFromAddress();
  if (fromLink) await session.openInvite(fromLink, { startup: true });
  else if (session.settings?.invite) {
    // Otherwise rejoin the last project.
    await session.join(session.settings.invite, { startup: true }).catch((error: Error) => console.warn(`could not rejoin: ${error.message}`));
  }
}

void boot();
