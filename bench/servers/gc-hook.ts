// Preloaded into every benchmarked server process (`node --expose-gc --import .../gc-hook.js`):
// SIGUSR2 runs a full garbage collection, so the idle-memory scenarios measure every
// server the same way (RSS after a forced GC), without touching the server's own code.
const gc = (globalThis as { gc?: () => void }).gc;
process.on('SIGUSR2', () => {
  if (gc) gc();
});
export {};
