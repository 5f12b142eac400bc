// What this process holds open, for `status` (and the soak test's leak checks): file
// descriptors and Node's active handles and requests, counted by kind.
import { readdirSync } from 'node:fs';
import type { ResourceStatus } from './control-protocol.js';

export function processResources(): ResourceStatus {
  const active: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) active[kind] = (active[kind] ?? 0) + 1;
  let fds: number | undefined;
  try {
    fds = readdirSync('/proc/self/fd').length;
  } catch {
    // no /proc (macOS, Windows): the count is left out
  }
  return { ...(fds !== undefined ? { fds } : {}), active };
}
