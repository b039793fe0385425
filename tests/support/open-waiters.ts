/**
 * Pending waits for a page's links to open (the burst's harness pages, ours and PeerJS's): each
 * `until` resolves once its condition holds, checked when `opened` is called. One pending call from
 * the bench instead of polling the page, whose polls cost CPU on the cores a burst is measured on.
 */
export function openWaiters(): { opened(): void; until(condition: () => boolean): Promise<void> } {
  const waiting = new Set<() => void>();
  return {
    opened: () => {
      for (const check of waiting) check();
    },
    until: (condition) =>
      new Promise((done) => {
        const check = () => {
          if (!condition()) return;
          waiting.delete(check);
          done();
        };
        waiting.add(check);
        check();
      }),
  };
}
