import type { FuzzTarget } from '../target.js';

// Loaded on demand: a campaign worker needs only its own target and what it imports.
const LOADERS: Record<string, () => Promise<FuzzTarget>> = {
  frames: async () => (await import('./frames.js')).framesTarget,
  handshake: async () => (await import('./handshake.js')).handshakeTarget,
  'extension-params': async () => (await import('./extension-params.js')).extensionParamsTarget,
  inflate: async () => (await import('./inflate.js')).inflateTarget,
  envelope: async () => (await import('./envelope.js')).envelopeTarget,
  routes: async () => (await import('./routes.js')).routesTarget,
  config: async () => (await import('./config.js')).configTarget,
};

/** Every fuzz target, in the order a campaign runs them. */
export const TARGET_NAMES: readonly string[] = Object.keys(LOADERS);

/** Inputs of no target are longer than this (the campaign's watchdog buffer). */
export const MAX_INPUT_LENGTH = 1 << 17;

export function loadTarget(name: string): Promise<FuzzTarget> {
  const load = LOADERS[name];
  if (!load) throw new Error(`unknown fuzz target ${name} (known: ${TARGET_NAMES.join(', ')})`);
  return load();
}
