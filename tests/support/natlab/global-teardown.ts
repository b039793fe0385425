/**
 * After the NAT lab, in the runner process: whatever a test worker could not remove (it was
 * killed, or timed out in teardown) is removed here, with every process still inside.
 */
import { removeLabNamespaces } from './netns';

export default function globalTeardown(): void {
  if (process.getuid?.() !== 0) return;
  const removed = removeLabNamespaces();
  if (removed.length) console.log(`natlab: removed namespaces left by a worker: ${removed.join(', ')}`);
}
