/** Before the NAT lab: remove namespaces (and their processes) that a crashed or killed run left behind. */
import { removeLabNamespaces } from './netns';

export default function globalSetup(): void {
  if (process.getuid?.() !== 0) return;
  const removed = removeLabNamespaces();
  if (removed.length) console.log(`natlab: removed stale namespaces ${removed.join(', ')}`);
}
