/**
 * The runtime: `startServer` composes the app server with supervision (worker and process
 * isolation), background services, the control socket, logs, metrics and graceful shutdown.
 * It is what `switchboard serve` runs.
 * @module
 */
export { startServer, type RunningServer, type StartServerOptions } from './serve.js';
export type { BackgroundContext, ServiceHandle } from './background-service.js';
