/**
 * Invites opened as links (…/#invite=…): read from the address bar when the console starts, and
 * whenever one is opened later in a tab already showing the console. Such a link differs from
 * the page's address only in its fragment, so opening it is a same-document navigation: the page
 * does not load again, it gets a `hashchange`.
 */

/** The invite link in the address bar, if there is one; taken out of it, to keep the token out of sight. */
export function takeInviteFromAddress(): string | undefined {
  if (!location.hash.includes('invite=')) return undefined;
  const link = location.href;
  history.replaceState(null, '', location.pathname + location.search);
  return link;
}

/** Calls `open` with every invite link opened in this tab from now on. */
export function onInviteOpened(open: (link: string) => void): () => void {
  const listener = () => {
    const link = takeInviteFromAddress();
    if (link) open(link);
  };
  window.addEventListener('hashchange', listener);
  return () => window.removeEventListener('hashchange', listener);
}
